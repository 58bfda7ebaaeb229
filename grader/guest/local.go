//go:build linux

package guest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"kmodgrade/grader/step"
)

// LocalChannel is the file descriptor of a local agent's channel: a socket
// that the grader passes it.
const LocalChannel = 3

// Local runs the agent as a process on the grader's own machine, to grade
// on the kernel that machine runs (grader check --host). The grader starts
// it in a mount namespace of its own (see vm.StartLocal): the agent keeps
// the module and the files of shell checks in a /tmp of its own, and
// traces into a tracing instance of its own, which it removes when the
// grader is done, so that the machine's own tracing is left as it was.
// Local returns when the grader asks to power off or goes away.
func Local() error {
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		return fmt.Errorf("failed to mount a /tmp of the agent's own: %w", err)
	}
	instance, err := traceInstance()
	if err != nil {
		return err
	}
	defer unix.Rmdir(instance)
	tracefs = instance

	ch := os.NewFile(LocalChannel, "channel")
	a := &agent{out: bufio.NewWriter(ch), ch: ch, token: step.BootToken}
	a.kmsg, err = openKmsg()
	if err != nil {
		return err
	}
	a.kmsg.drain()
	if err := traceSetup(); err != nil {
		fmt.Fprintf(os.Stderr, "agent: %v\n", err)
	}
	defer traceWrite("tracing_on", "0")
	return a.serve(ch)
}

// traceInstance makes a tracing instance for this agent, mounting tracefs
// (in the agent's own mount namespace) where the machine has not.
func traceInstance() (string, error) {
	root := "/sys/kernel/tracing"
	if _, err := os.Stat(filepath.Join(root, "instances")); err != nil {
		if err := unix.Mount("tracefs", root, "tracefs", 0, ""); err != nil {
			return "", fmt.Errorf("failed to mount tracefs on %s: %w", root, err)
		}
	}
	removeStaleInstances(filepath.Join(root, "instances"))
	dir := filepath.Join(root, "instances", fmt.Sprintf("kmodgrade-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("failed to make a tracing instance: %w", err)
	}
	return dir, nil
}

// removeStaleInstances removes the tracing instances of local agents that
// were killed before they could.
func removeStaleInstances(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "kmodgrade-*"))
	for _, m := range matches {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(m), "kmodgrade-%d", &pid); err != nil || pid <= 0 {
			continue
		}
		if unix.Kill(pid, 0) == unix.ESRCH {
			unix.Rmdir(m)
		}
	}
}
