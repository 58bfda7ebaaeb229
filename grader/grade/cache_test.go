package grade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"kmodgrade/grader/internal/vmtest"
	"kmodgrade/grader/rubric"
	"kmodgrade/grader/vm"
)

// TestSavedGuestCache checks that a saved guest is kept for the next
// grader, which starts from it, and that a broken one is replaced.
func TestSavedGuestCache(t *testing.T) {
	k := vmtest.Require(t) // before the cache moves: the kernel image lives there
	t.Setenv("KMODGRADE_CACHE", t.TempDir())
	rb, err := rubric.Load(filepath.Join(vmtest.Root(), "rubrics", "milestone1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cfg := &Config{Rubric: rb, Kernel: k, QEMU: "qemu-system-x86_64", Accel: "tcg", Busybox: "/bin/busybox",
		Log: func(f string, a ...any) { logs.WriteString(strings.TrimSpace(fmt.Sprintf(f, a...)) + "\n") }}
	newGrader := func() *Grader {
		t.Helper()
		logs.Reset()
		g, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		if g.snapshot == nil {
			t.Fatalf("no saved guest:\n%s", logs.String())
		}
		return g
	}

	// A saved guest in the one-file form of older graders is cleared away.
	legacy := filepath.Join(os.Getenv("KMODGRADE_CACHE"), "guests", "0123.state")
	if err := os.MkdirAll(filepath.Dir(legacy), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(legacy, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}

	g := newGrader()
	if !strings.Contains(logs.String(), "saved in") {
		t.Errorf("the first grader did not save a guest:\n%s", logs.String())
	}
	if _, err := os.Stat(legacy); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the older saved guest %s is still in the cache (%v)", legacy, err)
	}
	key, err := vm.Key(g.vm, g.initrd)
	if err != nil {
		t.Fatal(err)
	}
	cached := cachedGuest(key)
	if cached == "" {
		t.Fatalf("no saved guest of key %s in the cache", key)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(cached+vm.MemorySuffix, &st); err != nil {
		t.Fatalf("the cached guest has no memory file: %v", err)
	} else if st.Blocks*512 >= st.Size {
		t.Errorf("the cached memory file takes %d bytes of disk for its %d: its unused pages should be left out",
			st.Blocks*512, st.Size)
	}

	g = newGrader()
	if !strings.Contains(logs.String(), "from the cached saved guest") {
		t.Errorf("the second grader did not start from the cache:\n%s", logs.String())
	}
	startGuest(t, g)
	if g.fromCache != cached {
		t.Errorf("the second grader's guests start from %q, want the cache file %s", g.fromCache, cached)
	}

	// A broken cached guest is taken as it is, and replaced when the first
	// guest does not start from it.
	if err := os.WriteFile(cached, []byte("not a saved guest"), 0o644); err != nil {
		t.Fatal(err)
	}
	g = newGrader()
	startGuest(t, g)
	if !strings.Contains(logs.String(), "does not start") || !strings.Contains(logs.String(), "saved in") {
		t.Errorf("a broken cached guest was not replaced:\n%s", logs.String())
	}
	if _, err := os.Stat(cached); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the broken guest %s is still in the cache (%v)", cached, err)
	}
	if now := cachedGuest(key); now == "" || now == cached {
		t.Errorf("the cache holds no new saved guest (%q)", now)
	}
	startGuest(t, g)
}

// startGuest starts a guest from g and stops it.
func startGuest(t *testing.T, g *Grader) {
	t.Helper()
	guest, err := g.newGuest(context.Background())
	if err != nil {
		t.Fatalf("starting a guest: %v", err)
	}
	guest.Close()
}
