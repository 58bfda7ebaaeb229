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
	"sync/atomic"
)

// A frame is one line: the marker, the token of the guest's boot, the
// sequence number, the payload's length in bytes and its CRC-32 in hex, and
// the payload (JSON):
//
//	@kmg2 3f9c0a17d2e4b6c8 12 57 8d1e22f0 {"Seq":12,...}
//
// Anything else on the line-oriented channel is noise and is skipped, so a
// stray kernel message cannot pass for a result. The token is new each time
// a guest starts (the host sends it with its first step, and the agent
// answers with the token it was sent), so a frame forged by a module that
// writes to the agent's serial port, or replayed from another guest, is
// noise too unless the module reads the token out of the agent's memory:
// inside its guest a module can do anything, and the token only keeps what
// it prints from passing for a result by accident or by guesswork.
const marker = "@kmg2"

// BootToken is the token of the one frame an agent sends unasked, its
// hello at boot (sequence number 0), before it has heard from the host.
const BootToken = "boot"

// MaxFrame bounds one frame, in bytes.
const MaxFrame = 8 << 20

// ErrTooLong is returned for a frame longer than MaxFrame.
var ErrTooLong = errors.New("frame longer than the limit")

// Encode writes v as one frame with the token and sequence number seq.
func Encode(w io.Writer, token string, seq int, v any) error {
	if token == "" || strings.ContainsAny(token, " \n") {
		return fmt.Errorf("failed to encode frame: bad token %q", token)
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("failed to encode frame: %w", err)
	}
	sum := crc32.ChecksumIEEE(payload)
	_, err = fmt.Fprintf(w, "%s %s %d %d %08x %s\n", marker, token, seq, len(payload), sum, payload)
	return err
}

// Decoder reads frames from a stream, skipping lines that are not frames.
type Decoder struct {
	r *bufio.Reader
	// Token, when set, is the only token accepted, besides BootToken on a
	// frame with sequence number 0.
	Token string
	// LastToken is the token of the last frame Next returned.
	LastToken string
	// Noise counts the lines skipped because they were not valid frames;
	// it may be read while Next runs in another goroutine.
	Noise atomic.Int64
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
		f, ok := parseFrame(line, d.accept)
		if !ok {
			d.Noise.Add(1)
			continue
		}
		if err := json.Unmarshal(f.payload, v); err != nil {
			d.Noise.Add(1)
			continue
		}
		d.LastToken = f.token
		return f.seq, nil
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

func (d *Decoder) accept(token string, seq int) bool {
	return d.Token == "" || token == d.Token || token == BootToken && seq == 0
}

// parsed is a frame's fields.
type parsed struct {
	token   string
	seq     int
	payload []byte
}

// parseFrame finds a valid frame in line whose token and sequence number
// accept allows. Each marker on the line is tried in turn, so that a frame
// cut short by noise does not hide one after it.
func parseFrame(line string, accept func(string, int) bool) (parsed, bool) {
	for {
		i := strings.Index(line, marker+" ")
		if i < 0 {
			return parsed{}, false
		}
		line = line[i+len(marker)+1:]
		if f, ok := parseFields(line); ok && accept(f.token, f.seq) {
			return f, true
		}
	}
}

func parseFields(line string) (parsed, bool) {
	fields := strings.SplitN(line, " ", 5)
	if len(fields) != 5 {
		return parsed{}, false
	}
	seq, err1 := strconv.Atoi(fields[1])
	size, err2 := strconv.Atoi(fields[2])
	sum, err3 := strconv.ParseUint(fields[3], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return parsed{}, false
	}
	payload := []byte(fields[4])
	if len(payload) != size || crc32.ChecksumIEEE(payload) != uint32(sum) {
		return parsed{}, false
	}
	return parsed{token: fields[0], seq: seq, payload: payload}, true
}
