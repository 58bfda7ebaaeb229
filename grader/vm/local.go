package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"kmodgrade/grader/step"
)

// StartLocal starts the agent as a process on this machine rather than in
// a guest, so that the machine's own running kernel runs the module
// (grader check --host). argv runs the agent in its local mode
// (guest.Local). The agent gets its channel as file descriptor 3 and a
// mount namespace of its own, and dies with the grader. The kernel log,
// from now on, stands in for the console: reports of crashes are found in
// it as on a guest's console.
//
// A crash in the module here is a crash of this machine's kernel: an oops
// kills the agent at best (the step then fails as on a guest that died),
// and a panic takes the machine down with the grader.
func StartLocal(ctx context.Context, cfg *Config, argv []string) (*Guest, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("failed to make the agent's channel: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "agent"), os.NewFile(uintptr(fds[1]), "channel")
	defer theirs.Close()
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, err
	}
	kmsg, err := openKmsgEnd()
	if err != nil {
		conn.Close()
		return nil, err
	}

	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.ExtraFiles = []*os.File{theirs}
	stderr := &Console{} // bounded, as a guest's console is
	c.Stderr = stderr
	c.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	cfg.logf("to reproduce: %s (as root, with the channel on file descriptor 3)", shellQuote(argv))
	if err := c.Start(); err != nil {
		conn.Close()
		kmsg.Close()
		return nil, fmt.Errorf("failed to start the local agent: %w", err)
	}
	g := &Guest{cfg: cfg, console: &Console{}, conn: conn, token: newToken(), local: c, kmsg: kmsg,
		localDone: make(chan struct{}), frames: make(chan *step.Observation, 16),
		consoleDone: make(chan struct{})}
	go func() { c.Wait(); close(g.localDone) }()
	go g.readKmsg()
	dec := step.NewDecoder(conn)
	dec.Token = g.token
	g.noise = &dec.Noise
	go g.readFrames(dec)

	select {
	case o, ok := <-g.frames:
		if ok && o.Op == step.OpHello {
			g.StartTaint = o.Tainted
			return g, nil
		}
		<-g.localDone
		g.Close()
		return nil, fmt.Errorf("the local agent stopped before it said hello: %s",
			strings.TrimSpace(stderr.String()))
	case <-time.After(cfg.BootTimeout):
		g.Close()
		return nil, fmt.Errorf("no hello from the local agent within %v: %w", cfg.BootTimeout, ErrTimeout)
	case <-ctx.Done():
		g.Close()
		return nil, ctx.Err()
	}
}

// openKmsgEnd opens the kernel log at its end: only what is logged from
// now on is read.
func openKmsgEnd() (*os.File, error) {
	f, err := os.Open("/dev/kmsg")
	if err != nil {
		return nil, fmt.Errorf("failed to read the kernel log: %w", err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("failed to read the kernel log: %w", err)
	}
	return f, nil
}

// readKmsg copies the text of each kernel log record to the console, one
// line each, as a serial console would show it, until Close.
func (g *Guest) readKmsg() {
	defer close(g.consoleDone)
	buf := make([]byte, 8192)
	for {
		n, err := g.kmsg.Read(buf)
		if errors.Is(err, syscall.EPIPE) {
			continue // records were overwritten before they were read
		}
		if err != nil {
			return
		}
		// A record is "level,seq,time,flags;text\n" and then lines of
		// " KEY=value" that a console does not show.
		rec := string(buf[:n])
		if i := strings.IndexByte(rec, ';'); i >= 0 {
			rec = rec[i+1:]
		}
		if i := strings.IndexByte(rec, '\n'); i >= 0 {
			rec = rec[:i]
		}
		g.console.Write([]byte(rec + "\n"))
	}
}
