package vm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"kmodgrade/grader/step"
)

// Snapshot is a booted guest, idle and waiting for steps, saved to files.
// Every guest started from it begins in the same pristine kernel state, in
// a fraction of a cold boot: QEMU loads the saved devices instead of running
// the kernel's boot, and maps the saved memory copy-on-write, so that a
// restored guest reads only the pages it touches and no guest's writes
// reach the file or another guest.
type Snapshot struct {
	cfg    *Config
	initrd string
	// Path is the saved state of the devices, best kept in memory
	// (/dev/shm). Memory is the guest's memory, Path + ".mem"; or empty
	// when this QEMU could not leave the memory out of the state, which
	// then holds it too and is read whole by every guest.
	Path   string
	Memory string
	// Took is how long booting and saving took.
	Took time.Duration
}

// MemorySuffix ends the name of a saved guest's memory file.
const MemorySuffix = ".mem"

// NewSnapshot boots a guest from initrd and saves it to path, with its
// memory in path + MemorySuffix.
func NewSnapshot(ctx context.Context, cfg *Config, initrd, path string) (*Snapshot, error) {
	start := time.Now()
	os.Remove(path)
	mem := path + MemorySuffix
	os.Remove(mem)
	s, err := save(ctx, cfg, initrd, path, &memory{path: mem, shared: true})
	if errors.Is(err, errNoSharedMemory) {
		os.Remove(mem)
		cfg.logf("saving the guest with its memory in the state: %v", err)
		s, err = save(ctx, cfg, initrd, path, nil)
	}
	if err != nil {
		os.Remove(path)
		os.Remove(mem)
		return nil, err
	}
	s.Took = time.Since(start)
	return s, nil
}

// errNoSharedMemory means QEMU cannot save a guest without its memory
// (the x-ignore-shared capability of QEMU 4.0 and later).
var errNoSharedMemory = errors.New("this QEMU cannot leave a guest's memory out of its saved state")

func save(ctx context.Context, cfg *Config, initrd, path string, mem *memory) (*Snapshot, error) {
	g, err := startWith(ctx, cfg, initrd, mem)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	deadline := time.Now().Add(cfg.BootTimeout)
	q, err := dialQMP(g.qmpPath(), deadline)
	if err != nil {
		return nil, err
	}
	defer q.close()
	s := &Snapshot{cfg: cfg, initrd: initrd, Path: path}
	if mem != nil {
		if err := q.leaveOutMemory(); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoSharedMemory, err)
		}
		s.Memory = mem.path
	}
	g.saved = true
	if _, err := q.execute("migrate", map[string]any{"uri": "exec:cat > " + shellQuote([]string{path})}); err != nil {
		return nil, fmt.Errorf("failed to save the guest: %w", err)
	}
	if err := q.migrated(deadline, 50*time.Millisecond); err != nil {
		return nil, fmt.Errorf("failed to save the guest: %w", err)
	}
	return s, nil
}

// leaveOutMemory tells QEMU that the guest's memory, a shared file, is not
// part of the state it saves or loads.
func (q *qmp) leaveOutMemory() error {
	_, err := q.execute("migrate-set-capabilities", map[string]any{
		"capabilities": []map[string]any{{"capability": "x-ignore-shared", "state": true}}})
	return err
}

// migrated waits, asking every so often, for QEMU to finish saving or
// loading a state.
func (q *qmp) migrated(deadline time.Time, every time.Duration) error {
	for {
		raw, err := q.execute("query-migrate", nil)
		if err != nil {
			return err
		}
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		json.Unmarshal(raw, &st)
		switch st.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("migration %s: %s", st.Status, st.ErrorDesc)
		}
		if time.Now().After(deadline) {
			return errors.New("QEMU did not finish in time")
		}
		time.Sleep(every)
	}
}

// LoadSnapshot returns the snapshot saved at path, from a guest booted
// with cfg and initrd; its memory is path + MemorySuffix if that exists.
// Nothing checks that they match: start a guest from it to know.
func LoadSnapshot(cfg *Config, initrd, path string) *Snapshot {
	s := &Snapshot{cfg: cfg, initrd: initrd, Path: path}
	if fi, err := os.Stat(path + MemorySuffix); err == nil && fi.Mode().IsRegular() {
		s.Memory = path + MemorySuffix
	}
	return s
}

// Key identifies what a snapshot depends on: the kernel, the initramfs,
// QEMU and the machine it emulates. A snapshot is only ever restored by
// guests of the same key.
func Key(cfg *Config, initrd string) (string, error) {
	h := sha256.New()
	for _, f := range []string{cfg.Kernel, initrd} {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	version, err := exec.Command(cfg.QEMU, "--version").Output()
	if err != nil {
		return "", err
	}
	h.Write(version)
	fmt.Fprintln(h, strings.Join(cfg.args("initrd", "dir", &memory{path: "memory"}), " "))
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// Start starts a guest from the snapshot.
func (s *Snapshot) Start(ctx context.Context) (*Guest, error) {
	g, err := newGuest(s.cfg)
	if err != nil {
		return nil, err
	}
	var mem *memory
	if s.Memory != "" {
		mem = &memory{path: s.Memory}
	}
	if err := g.start(ctx, s.cfg.args(s.initrd, g.dir, mem), s); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// restore has QEMU, started with -incoming defer, load the snapshot's state
// and waits until it has: the guest then runs.
func (g *Guest) restore(s *Snapshot, deadline time.Time) error {
	q, err := dialQMP(g.qmpPath(), deadline)
	if err != nil {
		return err
	}
	defer q.close()
	if s.Memory != "" {
		if err := q.leaveOutMemory(); err != nil {
			return err
		}
	}
	uri := "exec:cat " + shellQuote([]string{s.Path})
	g.cfg.logf("then, over QMP: migrate-set-capabilities x-ignore-shared=%v, migrate-incoming %s", s.Memory != "", uri)
	if _, err := q.execute("migrate-incoming", map[string]any{"uri": uri}); err != nil {
		return err
	}
	return q.migrated(deadline, 5*time.Millisecond)
}

// Remove deletes the saved state and memory.
func (s *Snapshot) Remove() {
	os.Remove(s.Path)
	if s.Memory != "" {
		os.Remove(s.Memory)
	}
}

func (g *Guest) qmpPath() string { return g.dir + "/" + qmpSocket }

// handshake waits for a restored agent to answer. The state is loaded by
// then, but hello is sent again until an answer comes, in case the serial
// port lost it.
func (g *Guest) handshake(ctx context.Context, deadline time.Time) error {
	for time.Now().Before(deadline) {
		o, err := g.Do(ctx, step.Step{Op: step.OpHello}, 250*time.Millisecond)
		switch {
		case err == nil && o.Op == step.OpHello:
			return nil
		case err != nil && !strings.Contains(err.Error(), ErrTimeout.Error()):
			return g.exitError("restore", err)
		}
	}
	return fmt.Errorf("restore: no answer from the agent within %v: %w", g.cfg.BootTimeout, ErrTimeout)
}
