// Package vm boots disposable QEMU guests whose /init is the grading agent,
// sends them steps and collects their observations and console.
package vm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-cmd/cmd"

	"kmodgrade/grader/step"
)

// Config says how to boot a guest.
type Config struct {
	// QEMU is the qemu-system-x86_64 executable.
	QEMU string
	// Kernel is the guest's kernel image (a bzImage such as vmlinuz-6.1.0-57-amd64).
	Kernel string
	// Accel is "kvm" or "tcg".
	Accel string
	// MemoryMB is the guest's memory.
	MemoryMB int
	// Virtio says that the agent's channel is a virtio console port, as
	// the initramfs must say too (Initramfs.Virtio); else it is the second
	// serial port.
	Virtio bool
	// BootTimeout bounds the time from starting QEMU to the agent's hello.
	BootTimeout time.Duration
	// Log, when set, receives progress lines and the QEMU command line.
	Log func(format string, args ...any)
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		c.Log(format, args...)
	}
}

// ErrTimeout means a step did not finish in its time: the guest hung.
var ErrTimeout = errors.New("timed out")

// ErrGone means the guest stopped answering: QEMU exited or the kernel died.
var ErrGone = errors.New("the guest stopped")

// Guest is a running QEMU guest with its agent.
type Guest struct {
	// Ready is how long the guest took to boot, or to be restored, up to
	// the agent's first answer.
	Ready time.Duration

	cfg     *Config
	dir     string
	qemu    *cmd.Cmd
	console *Console
	conn    net.Conn
	frames  chan *step.Observation
	seq     int
	// token is this start's frame token (see package step); noise counts
	// the lines on the agent's channel that were not its frames.
	token string
	noise *atomic.Int64
	// saved is set on a guest whose state QEMU is writing out: it must quit,
	// not be killed.
	saved bool
	// consoleDone closes when QEMU closes the console, that is when it exits.
	consoleDone chan struct{}
	// StartTaint is the kernel's taint when the agent said hello: 0 in a
	// guest; on this machine's own kernel (StartLocal), whatever it was.
	StartTaint uint64
	// local is the agent's process, and kmsg the kernel log read in place
	// of a console, for an agent on this machine (StartLocal).
	local     *exec.Cmd
	localDone chan struct{}
	kmsg      *os.File
}

// Args returns QEMU's arguments for booting initrd, with the console, the
// agent's channel and the machine protocol on sockets in dir.
func (c *Config) Args(initrd, dir string) []string { return c.args(initrd, dir, nil) }

// memory is a guest's memory kept in a file instead of QEMU's own: shared,
// the guest writes into the file (a guest being saved); private, the file
// is mapped copy-on-write, so that the guest starts from what it holds and
// its writes stay its own (a guest restored from a saved one).
type memory struct {
	path   string
	shared bool
}

func (c *Config) args(initrd, dir string, mem *memory) []string {
	cpu := "max"
	if c.Accel == "kvm" {
		cpu = "host"
	}
	machine := []string{"-machine", "q35"}
	if mem != nil {
		share := "off"
		if mem.shared {
			share = "on"
		}
		machine = []string{"-machine", "q35,memory-backend=ram", "-object",
			fmt.Sprintf("memory-backend-file,id=ram,size=%dM,mem-path=%s,share=%s", c.MemoryMB, mem.path, share)}
	}
	args := []string{"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"}
	args = append(args, machine...)
	args = append(args,
		"-accel", c.Accel, "-cpu", cpu, "-smp", "1",
		"-m", fmt.Sprint(c.MemoryMB),
		"-kernel", c.Kernel, "-initrd", initrd,
		"-append", strings.Join(KernelArgs, " "),
		"-chardev", "socket,id=con,path="+filepath.Join(dir, consoleSocket),
		"-chardev", "socket,id=agent,path="+filepath.Join(dir, agentSocket),
		"-serial", "chardev:con",
	)
	if c.Virtio {
		args = append(args, "-device", "virtio-serial-pci,id=agentbus",
			"-device", "virtserialport,bus=agentbus.0,chardev=agent,name="+VirtioPort)
	} else {
		args = append(args, "-serial", "chardev:agent")
	}
	return append(args, "-qmp", "unix:"+filepath.Join(dir, qmpSocket)+",server=on,wait=off")
}

// The sockets of a guest, in its folder.
const (
	consoleSocket = "console.sock"
	agentSocket   = "agent.sock"
	qmpSocket     = "qmp.sock"
)

// KernelArgs is the guest kernel's command line. The console is ttyS0 (the
// agent's channel is a virtio port, or ttyS1: see Config.Virtio); log
// levels up to warnings reach the console, where the host looks for crash
// reports. An oops panics and a panic powers the
// guest off at once (with -no-reboot): an oops in one thread of the agent
// would otherwise leave the rest of it waiting forever.
//
// A module that spins in the kernel (a soft lockup, reported after twice
// watchdog_thresh seconds) or blocks a task for the hung-task timeout
// panics the guest too, so that the student reads where it was stuck
// rather than that a step timed out. slub_debug checks and poisons the
// kmalloc caches, so that a write after kfree or a double kfree is caught
// when it happens or at the next allocation, not silently survived.
// Expedited RCU grace periods take microseconds rather than a few timer
// ticks: rmmod waits for several, about 20 ms under TCG otherwise.
var KernelArgs = []string{
	"console=ttyS0", "oops=panic", "panic=-1", "loglevel=5", "mitigations=off",
	"rdinit=" + AgentPath, "sysctl.kernel.hung_task_timeout_secs=5", "hung_task_panic=1",
	"watchdog_thresh=2", "softlockup_panic=1", "slub_debug=FZP,kmalloc-*", "rcupdate.rcu_expedited=1",
}

// Start boots a guest from initrd and waits for its agent to say hello.
func Start(ctx context.Context, cfg *Config, initrd string) (*Guest, error) {
	return startWith(ctx, cfg, initrd, nil)
}

// startWith boots a guest, with its memory in a file when mem is set.
func startWith(ctx context.Context, cfg *Config, initrd string, mem *memory) (*Guest, error) {
	g, err := newGuest(cfg)
	if err != nil {
		return nil, err
	}
	if err := g.start(ctx, cfg.args(initrd, g.dir, mem), nil); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func newGuest(cfg *Config) (*Guest, error) {
	dir, err := os.MkdirTemp("", "kmodgrade-vm-")
	if err != nil {
		return nil, err
	}
	return &Guest{cfg: cfg, dir: dir, console: &Console{},
		frames: make(chan *step.Observation, 16), consoleDone: make(chan struct{})}, nil
}

// start starts QEMU with args and waits for the agent. With from set, the
// guest is restored from a saved one instead of booted.
func (g *Guest) start(ctx context.Context, args []string, from *Snapshot) error {
	started := time.Now()
	defer func() { g.Ready = time.Since(started) }()
	g.token = newToken()
	conSock := filepath.Join(g.dir, consoleSocket)
	agentSock := filepath.Join(g.dir, agentSocket)
	conL, err := net.Listen("unix", conSock)
	if err != nil {
		return err
	}
	defer conL.Close()
	agentL, err := net.Listen("unix", agentSock)
	if err != nil {
		return err
	}
	defer agentL.Close()

	if from != nil {
		// QEMU waits to be told where the state is: first it must be told
		// how the state was saved (see restore).
		args = append(args, "-incoming", "defer")
	}
	g.cfg.logf("to reproduce: %s %s", g.cfg.QEMU, shellQuote(args))
	// QEMU dies with the grader, even a grader killed with SIGKILL: a guest
	// left behind would run, idle, forever.
	dieWithParent := func(c *exec.Cmd) { c.SysProcAttr.Pdeathsig = syscall.SIGKILL }
	g.qemu = cmd.NewCmdOptions(cmd.Options{Buffered: true, BeforeExec: []func(*exec.Cmd){dieWithParent}},
		g.cfg.QEMU, args...)
	status := g.qemu.Start()

	deadline := time.Now().Add(g.cfg.BootTimeout)
	conC, err := accept(conL, deadline, status)
	if err != nil {
		return g.exitError("connect the console", err)
	}
	go g.readConsole(conC)
	g.conn, err = accept(agentL, deadline, status)
	if err != nil {
		return g.exitError("connect the agent", err)
	}
	dec := step.NewDecoder(g.conn)
	dec.Token = g.token
	g.noise = &dec.Noise
	go g.readFrames(dec)
	if from != nil {
		if err := g.restore(from, deadline); err != nil {
			return g.exitError("restore", err)
		}
		return g.handshake(ctx, deadline)
	}

	select {
	case o, ok := <-g.frames:
		if !ok {
			return g.exitError("boot", ErrGone)
		}
		if o.Op != step.OpHello {
			return fmt.Errorf("boot: the agent said %q before hello", o.Op)
		}
	case <-time.After(time.Until(deadline)):
		return fmt.Errorf("boot: no hello from the agent within %v: %w", g.cfg.BootTimeout, ErrTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// accept waits for QEMU to connect to l, or for QEMU to exit.
func accept(l net.Listener, deadline time.Time, status <-chan cmd.Status) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	l.(*net.UnixListener).SetDeadline(deadline)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-status:
		return nil, ErrGone
	}
}

// exitError describes a failure to start, with what QEMU printed.
func (g *Guest) exitError(what string, err error) error {
	st := g.qemu.Status()
	msg := strings.TrimSpace(strings.Join(st.Stderr, "\n"))
	if msg != "" {
		return fmt.Errorf("%s: %w: qemu: %s", what, err, msg)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (g *Guest) readConsole(c net.Conn) {
	defer close(g.consoleDone)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		g.console.Write(buf[:n])
		if err != nil {
			return
		}
	}
}

func (g *Guest) readFrames(dec *step.Decoder) {
	defer close(g.frames)
	for {
		o := new(step.Observation)
		seq, err := dec.Next(o)
		if err != nil {
			return
		}
		if seq != o.Seq {
			continue
		}
		g.frames <- o
	}
}

// Do sends one step and waits up to timeout for its observation. It returns
// ErrTimeout when the guest hung and ErrGone when it died; the console then
// says why.
func (g *Guest) Do(ctx context.Context, s step.Step, timeout time.Duration) (*step.Observation, error) {
	g.seq++
	s.Seq = g.seq
	if err := step.Encode(g.conn, g.token, s.Seq, &s); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", s.Op, ErrGone, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case o, ok := <-g.frames:
			if !ok {
				g.waitConsole()
				return nil, fmt.Errorf("%s: %w", s.Op, ErrGone)
			}
			if o.Seq == s.Seq {
				return o, nil
			}
		case <-timer.C:
			return nil, fmt.Errorf("%s: no answer within %v: %w", s.Op, timeout, ErrTimeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// DoAll sends steps one after another without waiting, and collects their
// observations in order, waiting up to timeout for each. A guest that
// crashes or hangs at step i leaves the observations of the steps before it
// and the error of step i.
func (g *Guest) DoAll(ctx context.Context, steps []step.Step, timeout time.Duration) ([]*step.Observation, error) {
	first := g.seq + 1
	for _, s := range steps {
		g.seq++
		s.Seq = g.seq
		if err := step.Encode(g.conn, g.token, s.Seq, &s); err != nil {
			return nil, fmt.Errorf("%s: %w: %v", s.Op, ErrGone, err)
		}
	}
	var obs []*step.Observation
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for len(obs) < len(steps) {
		want := first + len(obs)
		op := steps[len(obs)].Op
		select {
		case o, ok := <-g.frames:
			if !ok {
				g.waitConsole()
				return obs, fmt.Errorf("%s: %w", op, ErrGone)
			}
			if o.Seq == want {
				obs = append(obs, o)
				timer.Reset(timeout)
			}
		case <-timer.C:
			return obs, fmt.Errorf("%s: no answer within %v: %w", op, timeout, ErrTimeout)
		case <-ctx.Done():
			return obs, ctx.Err()
		}
	}
	return obs, nil
}

// waitConsole gives the console a moment to deliver what the guest printed
// before it died.
func (g *Guest) waitConsole() {
	if g.local != nil {
		// The kernel logged its report before the agent died.
		time.Sleep(200 * time.Millisecond)
		return
	}
	select {
	case <-g.consoleDone:
	case <-time.After(2 * time.Second):
	}
}

// Noise returns how many lines arrived on the agent's channel that were not
// valid frames of this guest's agent: garbled frames, or something else in
// the guest (a module) writing to the agent's serial port.
func (g *Guest) Noise() int64 {
	if g.noise == nil {
		return 0
	}
	return g.noise.Load()
}

// newToken returns a fresh frame token: 16 random hex digits.
func newToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Console returns the guest's console output.
func (g *Guest) Console() *Console { return g.console }

// Close stops QEMU and removes the guest's files; or, for a local agent,
// stops it.
func (g *Guest) Close() {
	if g.local != nil {
		// Asked to power off, the agent removes its tracing instance.
		g.seq++
		step.Encode(g.conn, g.token, g.seq, &step.Step{Seq: g.seq, Op: step.OpPoweroff})
		select {
		case <-g.localDone:
		case <-time.After(2 * time.Second):
			g.local.Process.Kill()
		}
		g.conn.Close()
		g.kmsg.Close()
		return
	}
	if g.qemu != nil {
		// The guest is thrown away: kill QEMU (its process group) rather
		// than ask it to quit, which takes it a good part of a second; but
		// a guest that was saved quits, to finish writing its state.
		if pid := g.qemu.Status().PID; pid > 0 && !g.saved {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
		g.qemu.Stop()
		select {
		case <-g.qemu.Done():
		case <-time.After(5 * time.Second):
		}
	}
	if g.conn != nil {
		g.conn.Close()
	}
	os.RemoveAll(g.dir)
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \"'$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
