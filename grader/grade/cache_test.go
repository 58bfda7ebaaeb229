package grade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

	g := newGrader()
	if !strings.Contains(logs.String(), "saved in") {
		t.Errorf("the first grader did not save a guest:\n%s", logs.String())
	}
	key, err := vm.Key(g.vm, g.initrd)
	if err != nil {
		t.Fatal(err)
	}
	cached := filepath.Join(os.Getenv("KMODGRADE_CACHE"), "guests", key+".state")

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
	if b, err := os.ReadFile(cached); err != nil || string(b) == "not a saved guest" {
		t.Errorf("the cache still holds the broken guest (%v)", err)
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
