package grade

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRemoveStale checks that the scratch folders of dead graders go, and
// those of running ones stay.
func TestRemoveStale(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dead := 4194000
	for ; dead > 1000; dead-- {
		if err := syscall.Kill(dead, 0); errors.Is(err, syscall.ESRCH) {
			break
		}
	}
	gone := filepath.Join(tmp, fmt.Sprintf("kmodgrade-%d-123", dead))
	kept := filepath.Join(tmp, fmt.Sprintf("kmodgrade-%d-456", os.Getpid()))
	other := filepath.Join(tmp, "kmodgrade-vm-789")
	for _, d := range []string{gone, kept, other} {
		if err := os.MkdirAll(filepath.Join(d, "build"), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	removeStale()

	if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the folder of dead process %d is still there (%v)", dead, err)
	}
	for _, d := range []string{kept, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(d), err)
		}
	}
}
