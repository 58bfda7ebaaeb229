package vm_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"kmodgrade/grader/internal/vmtest"
	"kmodgrade/grader/step"
	"kmodgrade/grader/vm"
)

// TestGuest boots a real guest with no module and drives its agent.
func TestGuest(t *testing.T) {
	k := vmtest.Require(t)
	dir := t.TempDir()
	initrd := vmtest.Initramfs(t, dir)
	cfg := &vm.Config{QEMU: "qemu-system-x86_64", Kernel: k.Image, Accel: "tcg", MemoryMB: 256,
		BootTimeout: 2 * time.Minute, Log: t.Logf}
	g, err := vm.Start(context.Background(), cfg, initrd)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	do := func(s step.Step) *step.Observation {
		t.Helper()
		o, err := g.Do(context.Background(), s, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.Op, err)
		}
		return o
	}

	o := do(step.Step{Op: step.OpShell, Command: "echo hello from $(cat /proc/sys/kernel/osrelease)", MaxBytes: 100})
	if want := "hello from " + k.Release; !strings.Contains(string(o.Output), want) || o.Exit != 0 {
		t.Errorf("shell: output %q exit %d, want %q", o.Output, o.Exit, want)
	}
	o = do(step.Step{Op: step.OpShell, Command: "sleep 30", TimeoutMillis: 1000})
	if !strings.Contains(o.Error, "timed out") {
		t.Errorf("a shell command over its time: error %q, want a time-out", o.Error)
	}
	o = do(step.Step{Op: step.OpStat, Path: "/proc/sys"})
	if o.Stat == nil || !o.Stat.Exists || !o.Stat.Dir {
		t.Errorf("stat /proc/sys: %+v", o.Stat)
	}
	o = do(step.Step{Op: step.OpWrite, Path: "/proc/no/such/file", Data: []byte("1 2\n")})
	if o.Errno != "ENOENT" {
		t.Errorf("write to a missing file: errno %q, want ENOENT", o.Errno)
	}
	o = do(step.Step{Op: step.OpPut, Path: "/tmp/none.ko", Data: []byte("not a module")})
	if o.Error != "" {
		t.Fatalf("put: %s", o.Error)
	}
	o = do(step.Step{Op: step.OpInsmod, Path: "/tmp/none.ko"})
	if o.Errno != "ENOEXEC" {
		t.Errorf("insmod of a file that is not a module: errno %q, want ENOEXEC", o.Errno)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("compressed for the serial port\n"))
	zw.Close()
	o = do(step.Step{Op: step.OpPut, Path: "/tmp/gz", Data: gz.Bytes(), Gzip: true})
	if o.Error != "" {
		t.Fatalf("put gzipped: %s", o.Error)
	}
	o = do(step.Step{Op: step.OpShell, Command: "cat /tmp/gz", MaxBytes: 100})
	if string(o.Output) != "compressed for the serial port\n" {
		t.Errorf("a gzipped put wrote %q", o.Output)
	}
	o = do(step.Step{Op: step.OpPut, Path: "/tmp/gz", Data: []byte("not gzip"), Gzip: true})
	if !strings.Contains(o.Error, "gunzip") {
		t.Errorf("a put of data that is not gzip: error %q, want it to say gunzip", o.Error)
	}
	o = do(step.Step{Op: step.OpRead, Path: "/proc/sys/kernel/osrelease", BufSize: 4, MaxReads: 100, MaxBytes: 100})
	var got []byte
	for _, r := range o.Reads {
		got = append(got, r.Data...)
	}
	if strings.TrimSpace(string(got)) != k.Release || o.Reads[len(o.Reads)-1].N != 0 {
		t.Errorf("reading 4 bytes at a time: %q in %d reads", got, len(o.Reads))
	}

	if _, err := g.Do(context.Background(), step.Step{Op: step.OpPoweroff}, 30*time.Second); !errors.Is(err, vm.ErrGone) {
		t.Errorf("after poweroff: %v, want ErrGone", err)
	}
}

// TestSnapshot saves a booted guest and starts two guests from it: each
// answers, neither sees what the other did, and the saved memory, which
// they map copy-on-write, is the same after they wrote all over theirs.
func TestSnapshot(t *testing.T) {
	k := vmtest.Require(t)
	dir := t.TempDir()
	initrd := vmtest.Initramfs(t, dir)
	cfg := &vm.Config{QEMU: "qemu-system-x86_64", Kernel: k.Image, Accel: "tcg", MemoryMB: 256,
		BootTimeout: 2 * time.Minute, Log: t.Logf}
	snap, err := vm.NewSnapshot(context.Background(), cfg, initrd, dir+"/guest.state")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Memory != dir+"/guest.state"+vm.MemorySuffix {
		t.Fatalf("the guest's memory was saved in the state (memory file %q): this QEMU should map it from a file", snap.Memory)
	}
	sum := func() [32]byte {
		t.Helper()
		b, err := os.ReadFile(snap.Memory)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	saved := sum()

	for i := 0; i < 2; i++ {
		g, err := snap.Start(context.Background())
		if err != nil {
			t.Fatalf("guest %d: %v", i, err)
		}
		o, err := g.Do(context.Background(), step.Step{Op: step.OpShell,
			Command: "ls /tmp; touch /tmp/was-here; cat /proc/sys/kernel/osrelease; " +
				"head -c 16777216 /dev/urandom > /tmp/fill && echo filled", MaxBytes: 200, TimeoutMillis: 30000}, 60*time.Second)
		g.Close()
		if err != nil {
			t.Fatalf("guest %d: %v", i, err)
		}
		if strings.Contains(string(o.Output), "was-here") || !strings.Contains(string(o.Output), k.Release) ||
			!strings.Contains(string(o.Output), "filled") {
			t.Errorf("guest %d printed %q: want the release, no trace of the guest before it, and filled", i, o.Output)
		}
		t.Logf("guest %d restored in %v", i, g.Ready)
	}
	if sum() != saved {
		t.Errorf("the saved memory changed: a restored guest wrote into it")
	}
	snap.Remove()
	for _, f := range []string{snap.Path, snap.Memory} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left after Remove (%v)", f, err)
		}
	}
}
