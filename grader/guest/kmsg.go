//go:build linux

package guest

import (
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// kmsgReader reads kernel log records from /dev/kmsg without blocking.
type kmsgReader struct {
	fd int
}

func openKmsg() (*kmsgReader, error) {
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/dev/kmsg", Err: err}
	}
	return &kmsgReader{fd: fd}, nil
}

// drain returns the text of every record logged since the last call.
func (k *kmsgReader) drain() []string {
	var lines []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(k.fd, buf)
		if errors.Is(err, unix.EPIPE) {
			continue // records were overwritten before we read them
		}
		if err != nil || n <= 0 {
			return lines
		}
		lines = append(lines, recordText(string(buf[:n])))
	}
}

// recordText turns "6,339,5140900,-;text\n KEY=value\n" into "text".
func recordText(rec string) string {
	if i := strings.IndexByte(rec, ';'); i >= 0 {
		rec = rec[i+1:]
	}
	if i := strings.IndexByte(rec, '\n'); i >= 0 {
		rec = rec[:i]
	}
	return rec
}
