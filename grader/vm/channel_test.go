package vm_test

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kmodgrade/grader/internal/vmtest"
	"kmodgrade/grader/step"
	"kmodgrade/grader/vm"
)

// TestVirtioChannel boots a guest whose agent talks over a virtio console
// port, moves a large frame each way, and saves and restores it.
func TestVirtioChannel(t *testing.T) {
	k := vmtest.Require(t)
	dir := t.TempDir()
	initrd := vmtest.VirtioInitramfs(t, dir, k)
	cfg := &vm.Config{QEMU: "qemu-system-x86_64", Kernel: k.Image, Accel: "tcg", MemoryMB: 256,
		Virtio: true, BootTimeout: 2 * time.Minute, Log: t.Logf}
	ctx := context.Background()
	g, err := vm.Start(ctx, cfg, initrd)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	do := func(g *vm.Guest, s step.Step) *step.Observation {
		t.Helper()
		o, err := g.Do(ctx, s, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", s.Op, err)
		}
		return o
	}
	o := do(g, step.Step{Op: step.OpShell, Command: "ls /sys/class/virtio-ports", MaxBytes: 200})
	if !strings.Contains(string(o.Output), "vport") {
		t.Errorf("no virtio port in the guest: %q", o.Output)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	o = do(g, step.Step{Op: step.OpPut, Path: "/tmp/big", Data: data})
	if o.Error != "" {
		t.Fatalf("put: %s", o.Error)
	}
	o = do(g, step.Step{Op: step.OpShell, Command: "cat /tmp/big", MaxBytes: len(data) + 1})
	if !bytes.Equal(o.Output, data) {
		t.Errorf("64 KiB sent and read back came back as %d bytes", len(o.Output))
	}

	snap, err := vm.NewSnapshot(ctx, cfg, initrd, filepath.Join(dir, "guest.state"))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Remove()
	for i := 0; i < 2; i++ {
		r, err := snap.Start(ctx)
		if err != nil {
			t.Fatalf("restored guest %d: %v", i, err)
		}
		o := do(r, step.Step{Op: step.OpShell, Command: "cat /proc/sys/kernel/osrelease", MaxBytes: 100})
		r.Close()
		if !strings.Contains(string(o.Output), k.Release) {
			t.Errorf("restored guest %d printed %q", i, o.Output)
		}
		t.Logf("restored guest %d in %v", i, r.Ready)
	}
}

// TestFindChannel checks where the channel's drivers come from: none when
// they are built in, modules in load order when they are modules, and an
// error that says what is missing.
func TestFindChannel(t *testing.T) {
	headers := func(conf string) string {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "include", "config"), 0o755)
		os.WriteFile(filepath.Join(dir, "include", "config", "auto.conf"), []byte(conf), 0o644)
		return dir
	}
	ch, err := vm.FindChannel(headers("CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_CONSOLE=y\n"), "")
	if err != nil || len(ch.Modules) != 0 {
		t.Errorf("built-in drivers: %+v, %v; want no modules", ch, err)
	}
	_, err = vm.FindChannel(headers("CONFIG_VIRTIO_PCI=y\n"), "")
	if err == nil || !strings.Contains(err.Error(), "virtio_console") {
		t.Errorf("no console driver: %v, want an error naming virtio_console", err)
	}
	empty := t.TempDir()
	os.MkdirAll(filepath.Join(empty, "kernel"), 0o755)
	_, err = vm.FindChannel(headers("CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_CONSOLE=m\n"), empty)
	if err == nil || !strings.Contains(err.Error(), "virtio_console is not in") {
		t.Errorf("a missing module: %v, want it named", err)
	}
	os.WriteFile(filepath.Join(empty, "kernel", "virtio_console.ko.zst"), []byte("x"), 0o644)
	_, err = vm.FindChannel(headers("CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_CONSOLE=m\n"), empty)
	if err == nil || !strings.Contains(err.Error(), "compressed") {
		t.Errorf("a compressed module: %v, want it said", err)
	}

	// The guest kernel's own, as the setup unpacks them.
	k := vmtest.Require(t)
	ch, err = vm.FindChannel(k.Headers, k.Modules)
	if err != nil {
		t.Fatalf("the guest kernel's channel drivers: %v (run make setup)", err)
	}
	loaded := map[string]bool{}
	for _, m := range ch.Modules {
		name := strings.TrimSuffix(filepath.Base(m), ".ko")
		for _, d := range depends(t, m) {
			if !loaded[d] {
				t.Errorf("%s comes before %s, which it needs: %v", name, d, ch.Modules)
			}
		}
		loaded[name] = true
	}
	for _, want := range []string{"virtio_pci", "virtio_console"} {
		if !loaded[want] {
			t.Errorf("%s is not among the channel's modules %v", want, ch.Modules)
		}
	}
}

func depends(t *testing.T, ko string) []string {
	t.Helper()
	f, err := elf.Open(ko)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := f.Section(".modinfo").Data()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range strings.Split(string(info), "\x00") {
		if v, ok := strings.CutPrefix(field, "depends="); ok && v != "" {
			return strings.Split(v, ",")
		}
	}
	return nil
}
