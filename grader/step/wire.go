package step

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
)

// A frame is one line: the marker, the sequence number, the CRC-32 of the
// payload in hex, and the payload (JSON). Anything else on the line-oriented
// channel is noise and is skipped, so a stray kernel message cannot pass
// for a result.
const marker = "@kmg1"

// MaxFrame bounds one frame, in bytes.
const MaxFrame = 8 << 20

// ErrTooLong is returned for a frame longer than MaxFrame.
var ErrTooLong = errors.New("frame longer than the limit")

// Encode writes v as one frame with sequence number seq.
func Encode(w io.Writer, seq int, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("failed to encode frame: %w", err)
	}
	sum := crc32.ChecksumIEEE(payload)
	_, err = fmt.Fprintf(w, "%s %d %08x %s\n", marker, seq, sum, payload)
	return err
}

// Decoder reads frames from a stream, skipping lines that are not frames.
type Decoder struct {
	r *bufio.Reader
	// Noise counts the lines skipped because they were not valid frames.
	Noise int
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next decodes the next valid frame into v and returns its sequence number.
func (d *Decoder) Next(v any) (int, error) {
	for {
		line, err := d.line()
		if err != nil {
			return 0, err
		}
		seq, payload, ok := parseFrame(line)
		if !ok {
			d.Noise++
			continue
		}
		if err := json.Unmarshal(payload, v); err != nil {
			d.Noise++
			continue
		}
		return seq, nil
	}
}

func (d *Decoder) line() (string, error) {
	var b strings.Builder
	for {
		chunk, err := d.r.ReadSlice('\n')
		b.Write(chunk)
		if b.Len() > MaxFrame {
			return "", ErrTooLong
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		return strings.TrimRight(b.String(), "\r\n"), nil
	}
}

// parseFrame finds a valid frame in line. Each marker on the line is tried in
// turn, so that a frame cut short by noise does not hide one after it.
func parseFrame(line string) (int, []byte, bool) {
	for {
		i := strings.Index(line, marker+" ")
		if i < 0 {
			return 0, nil, false
		}
		line = line[i+len(marker)+1:]
		if seq, payload, ok := parseFields(line); ok {
			return seq, payload, true
		}
	}
}

func parseFields(line string) (int, []byte, bool) {
	fields := strings.SplitN(line, " ", 3)
	if len(fields) != 3 {
		return 0, nil, false
	}
	seq, err := strconv.Atoi(fields[0])
	if err != nil {
		return 0, nil, false
	}
	sum, err := strconv.ParseUint(fields[1], 16, 32)
	if err != nil {
		return 0, nil, false
	}
	payload := []byte(fields[2])
	if crc32.ChecksumIEEE(payload) != uint32(sum) {
		return 0, nil, false
	}
	return seq, payload, true
}
