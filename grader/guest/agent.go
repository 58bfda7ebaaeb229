//go:build linux

// Package guest is the agent that runs as /init inside the grading guest. It
// carries out the host's steps one at a time and reports what it saw; it never
// judges. It talks to the host over a virtio console port, or over its own
// serial port, /dev/ttyS1 (see openChannel), while the
// kernel console stays on /dev/ttyS0.
package guest

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"kmodgrade/grader/step"
)

// Main runs the agent. It never returns: when the host asks, or when the
// agent cannot go on, it powers the guest off.
func Main() {
	if err := mountAll(); err != nil {
		fatal(err)
	}
	ch, tty, err := openChannel()
	if err != nil {
		fatal(err)
	}
	a := &agent{out: bufio.NewWriter(ch), ch: ch, tty: tty, token: step.BootToken}
	a.kmsg, err = openKmsg()
	if err != nil {
		fatal(err)
	}
	a.kmsg.drain()
	if err := traceSetup(); err != nil {
		// Not fatal: each run's trace step tries again and reports it.
		fmt.Fprintf(os.Stderr, "agent: %v\n", err)
	}

	if err := a.serve(ch); err != nil {
		fatal(err)
	}
	poweroff()
}

// serve says hello, then carries out steps until the host asks to power
// off.
func (a *agent) serve(ch *os.File) error {
	a.send(&step.Observation{Seq: 0, Op: step.OpHello, Tainted: tainted()})
	dec := step.NewDecoder(ch)
	for {
		var s step.Step
		seq, err := dec.Next(&s)
		if err != nil {
			return fmt.Errorf("failed to read from the host: %w", err)
		}
		if seq != s.Seq {
			continue
		}
		a.token = dec.LastToken
		if s.Op == step.OpPoweroff {
			return nil
		}
		a.send(a.do(&s))
	}
}

type agent struct {
	out *bufio.Writer
	ch  *os.File
	// tty says that ch is a serial port, whose kernel buffers are drained
	// after each answer.
	tty  bool
	kmsg *kmsgReader
	// module is the last module loaded, used to attribute trace events.
	module string
	// token is the token of the host's last step, sent back with its answer.
	token string
}

func (a *agent) send(o *step.Observation) {
	if err := step.Encode(a.out, a.token, o.Seq, o); err != nil {
		fatal(err)
	}
	if err := a.out.Flush(); err != nil {
		fatal(err)
	}
	// Wait until the serial port has sent it all (tcdrain): the host sends
	// steps ahead, and if the next one crashes the kernel, what is still in
	// the kernel's buffers would be lost, and the crash blamed on this step.
	// A write to a virtio port returns once QEMU has taken the bytes.
	if a.tty {
		unix.IoctlSetInt(int(a.ch.Fd()), unix.TCSBRK, 1)
	}
}

func (a *agent) do(s *step.Step) *step.Observation {
	start := time.Now()
	o := &step.Observation{Seq: s.Seq, Op: s.Op}
	switch s.Op {
	case step.OpHello:
	case step.OpInsmod:
		insmod(s, o)
	case step.OpRmmod:
		rmmod(s, o)
	case step.OpSections:
		sections(s, o)
	case step.OpStat:
		stat(s, o)
	case step.OpWrite:
		write(s, o)
	case step.OpRead:
		read(s, o)
	case step.OpShell:
		shell(s, o)
	case step.OpTraceStart:
		traceStart(o)
	case step.OpTraceStop:
		traceStop(s, o)
	case step.OpPut:
		put(s, o)
	default:
		o.Error = fmt.Sprintf("unknown step %q", s.Op)
	}
	o.Micros = time.Since(start).Microseconds()
	o.Kmsg = a.kmsg.drain()
	o.Tainted = tainted()
	return o
}

func mountAll() error {
	mounts := []struct{ fstype, target string }{
		{"proc", "/proc"},
		{"sysfs", "/sys"},
		{"devtmpfs", "/dev"},
		{"tmpfs", "/tmp"},
		{"tracefs", "/sys/kernel/tracing"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.fstype, m.target, m.fstype, 0, ""); err != nil {
			return fmt.Errorf("failed to mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

func tainted() uint64 {
	b, err := os.ReadFile("/proc/sys/kernel/tainted")
	if err != nil {
		return 0
	}
	var v uint64
	fmt.Sscan(string(b), &v)
	return v
}

func poweroff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

// fatal reports on the console and powers off: PID 1 must never exit.
func fatal(err error) {
	fmt.Fprintf(os.Stderr, "kmodgrade agent: %v\n", err)
	poweroff()
}
