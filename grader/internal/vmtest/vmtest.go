// Package vmtest holds what the tests that boot real guests share: finding
// the kernel, QEMU and the sandbox, and refusing to pass silently when they
// are missing.
package vmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"kmodgrade/grader/kernel"
)

// Require returns the guest kernel, or stops the test when what booting a
// guest needs is missing: a skip with the reason on a developer's machine,
// a failure under CI (CI is set), where the setup must have installed it.
// Under -short every VM test is skipped.
func Require(t *testing.T) *kernel.Kernel {
	t.Helper()
	if testing.Short() {
		t.Skip("boots a VM; not under -short")
	}
	stop := t.Skipf
	if os.Getenv("CI") != "" {
		stop = t.Fatalf
	}
	for _, exe := range []string{"qemu-system-x86_64", "bwrap", "prlimit", "make", "go"} {
		if _, err := exec.LookPath(exe); err != nil {
			stop("this test boots a guest and needs %s: run make setup (%v)", exe, err)
		}
	}
	k, err := kernel.Find("", "")
	if err != nil {
		stop("this test boots a guest and needs a kernel image and headers: run make setup (%v)", err)
	}
	return k
}

// Root returns the repository's top folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
