//go:build linux

package guest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"kmodgrade/grader/step"
)

func errnoName(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
		return "errno " + strconv.Itoa(int(errno))
	}
	return ""
}

// fail records err on o: as an errno when the system call gave one.
func fail(o *step.Observation, call string, err error) {
	o.Errno = errnoName(err)
	o.Error = call + ": " + err.Error()
}

func insmod(s *step.Step, o *step.Observation) {
	f, err := os.Open(s.Path)
	if err != nil {
		o.Error = err.Error()
		return
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil {
		fail(o, "finit_module", err)
	}
}

// maxPut bounds what a put step writes once decompressed.
const maxPut = 64 << 20

func put(s *step.Step, o *step.Observation) {
	data := s.Data
	if s.Gzip {
		zr, err := gzip.NewReader(bytes.NewReader(s.Data))
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(zr, maxPut+1))
		}
		if err == nil && len(data) > maxPut {
			err = fmt.Errorf("more than %d bytes", maxPut)
		}
		if err != nil {
			fail(o, "gunzip", err)
			return
		}
	}
	if err := os.WriteFile(s.Path, data, 0o644); err != nil {
		fail(o, "write "+s.Path, err)
	}
}

func rmmod(s *step.Step, o *step.Observation) {
	if err := unix.DeleteModule(s.Module, unix.O_NONBLOCK); err != nil {
		fail(o, "delete_module", err)
	}
}

func sections(s *step.Step, o *step.Observation) {
	dir := filepath.Join("/sys/module", s.Module, "sections")
	names := s.Names
	if len(names) == 0 {
		entries, err := os.ReadDir(dir)
		if err != nil {
			fail(o, "readdir", err)
			return
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
	} else if _, err := os.Stat(dir); err != nil {
		fail(o, "stat", err)
		return
	}
	o.Sections = map[string]uint64{}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue // a section the kernel did not keep, such as .init.text after init
		}
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 64)
		if err == nil {
			o.Sections[name] = v
		}
	}
}

func stat(s *step.Step, o *step.Observation) {
	fi, err := os.Stat(s.Path)
	if err != nil {
		o.Stat = &step.Stat{}
		o.Errno = errnoName(err)
		return
	}
	o.Stat = &step.Stat{Exists: true, Dir: fi.IsDir(), Mode: uint32(fi.Mode().Perm())}
}

func write(s *step.Step, o *step.Observation) {
	fd, err := unix.Open(s.Path, unix.O_WRONLY, 0)
	if err != nil {
		fail(o, "open", err)
		return
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, s.Data)
	if err != nil {
		fail(o, "write", err)
		return
	}
	o.N = n
}

// read opens the path once and reads from it until read() returns 0 or an
// error, or until MaxReads calls or MaxBytes bytes, whichever comes first.
func read(s *step.Step, o *step.Observation) {
	fd, err := unix.Open(s.Path, unix.O_RDONLY, 0)
	if err != nil {
		fail(o, "open", err)
		return
	}
	defer unix.Close(fd)
	buf := make([]byte, max(s.BufSize, 1))
	total := 0
	for i := 0; i < max(s.MaxReads, 1); i++ {
		n, err := unix.Read(fd, buf)
		if err != nil {
			o.Reads = append(o.Reads, step.Read{Errno: errnoName(err)})
			return
		}
		keep := min(n, max(s.MaxBytes-total, 0))
		o.Reads = append(o.Reads, step.Read{N: n, Data: append([]byte(nil), buf[:keep]...)})
		total += n
		if n == 0 || total >= s.MaxBytes {
			return
		}
	}
}

func shell(s *step.Step, o *step.Observation) {
	timeout := time.Duration(max(s.TimeoutMillis, 1000)) * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", s.Command)
	cmd.Env = []string{"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/tmp"}
	cmd.Dir = "/tmp"
	out := &limitedBuffer{max: max(s.MaxBytes, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	o.Output = out.buf
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		o.Error = "timed out after " + timeout.String()
		o.Exit = -1
	case errors.As(err, &exit):
		o.Exit = exit.ExitCode()
	case err != nil:
		o.Error = err.Error()
		o.Exit = -1
	}
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	buf []byte
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	room := b.max - len(b.buf)
	b.buf = append(b.buf, p[:max(min(room, len(p)), 0)]...)
	return len(p), nil
}
