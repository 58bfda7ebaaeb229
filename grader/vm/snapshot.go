package vm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"kmodgrade/grader/step"
)

// Snapshot is a booted guest, idle and waiting for steps, saved to a file.
// Every guest started from it begins in the same pristine kernel state, in
// a fraction of a cold boot: QEMU loads the saved memory and devices instead
// of running the kernel's boot.
type Snapshot struct {
	cfg    *Config
	initrd string
	// Path is the saved state, best kept in memory (/dev/shm).
	Path string
	// Took is how long booting and saving took.
	Took time.Duration
}

// NewSnapshot boots a guest from initrd and saves it to path.
func NewSnapshot(ctx context.Context, cfg *Config, initrd, path string) (*Snapshot, error) {
	start := time.Now()
	g, err := Start(ctx, cfg, initrd)
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
	os.Remove(path)
	g.saved = true
	if _, err := q.execute("migrate", map[string]any{"uri": "exec:cat > " + shellQuote([]string{path})}); err != nil {
		return nil, fmt.Errorf("failed to save the guest: %w", err)
	}
	for {
		raw, err := q.execute("query-migrate", nil)
		if err != nil {
			return nil, fmt.Errorf("failed to save the guest: %w", err)
		}
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		json.Unmarshal(raw, &st)
		switch st.Status {
		case "completed":
			return &Snapshot{cfg: cfg, initrd: initrd, Path: path, Took: time.Since(start)}, nil
		case "failed", "cancelled":
			return nil, fmt.Errorf("failed to save the guest: migration %s: %s", st.Status, st.ErrorDesc)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("failed to save the guest: not done within %v", cfg.BootTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LoadSnapshot returns the snapshot saved at path, from a guest booted
// with cfg and initrd. Nothing checks that they match: start a guest from
// it to know.
func LoadSnapshot(cfg *Config, initrd, path string) *Snapshot {
	return &Snapshot{cfg: cfg, initrd: initrd, Path: path}
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
	fmt.Fprintln(h, strings.Join(cfg.Args("initrd", "dir"), " "))
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// Start starts a guest from the snapshot.
func (s *Snapshot) Start(ctx context.Context) (*Guest, error) {
	dir, err := os.MkdirTemp("", "kmodgrade-vm-")
	if err != nil {
		return nil, err
	}
	g := &Guest{cfg: s.cfg, dir: dir, console: &Console{},
		frames: make(chan *step.Observation, 16), consoleDone: make(chan struct{})}
	if err := g.start(ctx, s.initrd, "exec:cat "+shellQuote([]string{s.Path})); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// Remove deletes the saved state.
func (s *Snapshot) Remove() { os.Remove(s.Path) }

func (g *Guest) qmpPath() string { return g.dir + "/" + qmpSocket }

// handshake waits for a restored agent to answer. Bytes sent to the guest's
// serial port while QEMU is still loading the state can be lost, so hello
// is sent again until an answer comes.
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
