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
	"kmodgrade/grader/vm"
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

// RequireSlurm starts a single-node Slurm cluster on this machine for the
// test (scripts/slurm-cluster.sh, from Debian's packages), stops it when
// the test ends, and returns its slurm.conf. Like Require, it skips when
// Slurm is not installed, and fails under CI.
func RequireSlurm(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Slurm cluster; not under -short")
	}
	stop := t.Skipf
	if os.Getenv("CI") != "" {
		stop = t.Fatalf
	}
	if os.Geteuid() != 0 {
		stop("this test starts a Slurm cluster's daemons, which needs root")
	}
	for _, exe := range []string{"sbatch", "slurmctld", "slurmd", "munged"} {
		if _, err := exec.LookPath(exe); err != nil {
			stop("this test starts a Slurm cluster and needs %s: run scripts/slurm-cluster.sh install (%v)", exe, err)
		}
	}
	script := filepath.Join(Root(), "scripts", "slurm-cluster.sh")
	// Not t.TempDir: munge wants every folder above its socket searchable
	// by all, and t.TempDir's parent is private.
	dir, err := os.MkdirTemp("", "kmodgrade-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command(script, "start", dir).CombinedOutput(); err != nil {
		exec.Command(script, "stop", dir).Run()
		t.Fatalf("failed to start a Slurm cluster: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			t.Errorf("failed to stop the Slurm cluster: %v\n%s", err, out)
		}
	})
	return filepath.Join(dir, "slurm.conf")
}

// Initramfs builds the guest agent from this checkout and writes an
// initramfs with it and busybox into dir, returning its path. The agent
// talks to the host over the second serial port.
func Initramfs(t *testing.T, dir string) string {
	t.Helper()
	return initramfs(t, dir, nil)
}

// VirtioInitramfs is Initramfs with the agent on a virtio console port,
// whose drivers it takes from k (the setup unpacks them); guests of it
// need vm.Config.Virtio. It stops the test as Require does when the
// drivers are missing.
func VirtioInitramfs(t *testing.T, dir string, k *kernel.Kernel) string {
	t.Helper()
	ch, err := vm.FindChannel(k.Headers, k.Modules)
	if err != nil {
		stop := t.Skipf
		if os.Getenv("CI") != "" {
			stop = t.Fatalf
		}
		stop("this test needs the virtio console drivers of the guest kernel: run make setup (%v)", err)
	}
	return initramfs(t, dir, ch)
}

func initramfs(t *testing.T, dir string, ch *vm.Channel) string {
	t.Helper()
	agent, err := vm.BuildAgent(dir)
	if err != nil {
		t.Fatal(err)
	}
	ir, err := vm.NewInitramfs(agent, "/bin/busybox", ch)
	if err != nil {
		t.Fatal(err)
	}
	initrd, err := ir.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	return initrd
}
