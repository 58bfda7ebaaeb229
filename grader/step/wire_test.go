package step

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
	"strings"
	"testing"
)

var observations = []Observation{
	{Seq: 1, Op: OpHello},
	{Seq: 2, Op: OpInsmod, Kmsg: []string{
		"project: loading out-of-tree module taints kernel.",
		"[csse332]: Module csse332 initializing...",
	}},
	{Seq: 3, Op: OpWrite, N: 8},
	{Seq: 4, Op: OpWrite, Errno: "EINVAL", Error: "write /proc/csse332/status: invalid argument"},
	{Seq: 5, Op: OpRead, Reads: []Read{
		{N: 8, Data: []byte("0: 3007\n")},
		{N: 0},
		{Errno: "EFAULT"},
	}},
	{Seq: 6, Op: OpStat, Stat: &Stat{Exists: true, Mode: 0o666}},
	{Seq: 7, Op: OpTraceStop, Overrun: true, Events: []MemEvent{
		{Kind: "kmalloc", Caller: "csse332_write+0x4a/0x120", Ptr: "00000000c0ffee00", Bytes: 6},
		{Kind: "kfree", CallSite: 0xffffffffc0201234, Ptr: "00000000c0ffee00"},
	}},
	{Seq: 8, Op: OpSections, Sections: map[string]uint64{".text": 0xffffffffc0200000}},
	{Seq: 9, Op: OpShell, Output: []byte("sh: \x00binary\xff\n"), Exit: 127},
}

// testToken is the token of the test streams' frames.
const testToken = "0123456789abcdef"

// frame returns the frame of o as Encode writes it, newline included.
func frame(t *testing.T, o Observation) string {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, testToken, o.Seq, &o); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// decodeAll decodes frames until the stream ends.
func decodeAll(t *testing.T, stream string) ([]Observation, []int, *Decoder) {
	t.Helper()
	d := NewDecoder(strings.NewReader(stream))
	d.Token = testToken
	var obs []Observation
	var seqs []int
	for {
		var o Observation
		seq, err := d.Next(&o)
		if err == io.EOF {
			return obs, seqs, d
		}
		if err != nil {
			t.Fatalf("Next() error = %v", err)
		}
		obs = append(obs, o)
		seqs = append(seqs, seq)
	}
}

func TestRoundTrip(t *testing.T) {
	var stream strings.Builder
	for _, o := range observations {
		stream.WriteString(frame(t, o))
	}

	got, seqs, d := decodeAll(t, stream.String())
	if !reflect.DeepEqual(got, observations) {
		t.Errorf("decoded %+v\nwant %+v", got, observations)
	}
	for i, s := range seqs {
		if s != observations[i].Seq {
			t.Errorf("frame %d has sequence number %d, want %d", i, s, observations[i].Seq)
		}
	}
	if d.Noise.Load() != 0 {
		t.Errorf("Noise = %d, want 0", d.Noise.Load())
	}
}

func TestNoise(t *testing.T) {
	a, b := observations[1], observations[4]
	fa, fb := frame(t, a), frame(t, b)
	badCRC := strings.Replace(fb, " "+strings.Fields(fb)[4]+" ", " 00000000 ", 1)
	badJSON := fmt.Sprintf("@kmg2 %s 7 9 %08x {not json\n", testToken, crc32.ChecksumIEEE([]byte("{not json")))
	badLength := strings.Replace(fb, " "+strings.Fields(fb)[3]+" ", " 7 ", 1)
	otherToken := strings.Replace(fb, testToken, "fedcba9876543210", 1)
	bootLater := strings.Replace(fb, testToken, BootToken, 1)
	var boot bytes.Buffer
	hello := Observation{Op: OpHello}
	if err := Encode(&boot, BootToken, 0, &hello); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		stream string
		want   []Observation
		noise  int
	}{
		{
			name: "kernel messages between frames",
			stream: "[    2.842714] random: crng init done\n" + fa +
				"[    2.901000] [csse332]: Module csse332 initializing...\r\n" + fb,
			want:  []Observation{a, b},
			noise: 2,
		},
		{
			name:   "wrong CRC",
			stream: fa + badCRC + fb,
			want:   []Observation{a, b},
			noise:  1,
		},
		{
			name:   "truncated frame",
			stream: fa + fb[:len(fb)/2] + "\n" + fb,
			want:   []Observation{a, b},
			noise:  1,
		},
		{
			name:   "garbage bytes",
			stream: "\x00\xff\xfe\x1b[0m\n" + fa + "@kmg2\n@kmg2 x 0 {}\n" + fb,
			want:   []Observation{a, b},
			noise:  3,
		},
		{
			name:   "valid CRC, invalid JSON",
			stream: fa + badJSON + fb,
			want:   []Observation{a, b},
			noise:  1,
		},
		{
			name:   "wrong length",
			stream: fa + badLength + fb,
			want:   []Observation{a, b},
			noise:  1,
		},
		{
			name:   "another guest's token",
			stream: fa + otherToken + fb,
			want:   []Observation{a, b},
			noise:  1,
		},
		{
			name:   "the boot token on a later frame",
			stream: fa + bootLater + fb,
			want:   []Observation{a, b},
			noise:  1,
		},
		{
			name:   "the boot hello",
			stream: boot.String() + fb,
			want:   []Observation{hello, b},
		},
		{
			name:   "an old version's frame",
			stream: fa + strings.Replace(strings.Replace(fb, "@kmg2", "@kmg1", 1), testToken+" ", "", 1) + fb,
			want:   []Observation{a, b},
			noise:  1,
		},
		{
			name:   "frame after other text on its line",
			stream: "[    3.100000] reboot: Power down" + fa + "login: " + fb,
			want:   []Observation{a, b},
		},
		{
			name:   "frame without its newline at the end",
			stream: fa + strings.TrimSuffix(fb, "\n"),
			want:   []Observation{a},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, d := decodeAll(t, tt.stream)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decoded %+v\nwant %+v", got, tt.want)
			}
			if d.Noise.Load() != int64(tt.noise) {
				t.Errorf("Noise = %d, want %d", d.Noise.Load(), tt.noise)
			}
		})
	}
}

func TestTooLong(t *testing.T) {
	long := strings.Repeat("x", MaxFrame+1) + "\n"
	d := NewDecoder(strings.NewReader(long + frame(t, observations[0])))
	var o Observation
	if _, err := d.Next(&o); !errors.Is(err, ErrTooLong) {
		t.Errorf("Next() error = %v, want ErrTooLong", err)
	}
}

// TestDecoderFrameAfterCutFrame checks that a frame cut short by noise does
// not hide a whole frame after it on the same line.
func TestDecoderFrameAfterCutFrame(t *testing.T) {
	var whole bytes.Buffer
	if err := Encode(&whole, testToken, 7, &Observation{Seq: 7, Op: OpStat}); err != nil {
		t.Fatal(err)
	}
	input := "@kmg2 " + testToken + " 6 40 1234abcd {\"seq\":6,\"op" + whole.String()
	d := NewDecoder(strings.NewReader(input))
	d.Token = testToken
	var o Observation
	seq, err := d.Next(&o)
	if err != nil || seq != 7 || o.Op != OpStat {
		t.Errorf("Next = %d, %+v, %v; want the frame of seq 7", seq, o, err)
	}
}

// TestAgentAnswersWithHostToken checks that a decoder with no token of its
// own, the agent's, takes any token and tells which one it read.
func TestAgentAnswersWithHostToken(t *testing.T) {
	var b bytes.Buffer
	if err := Encode(&b, "feedc0de00000001", 3, &Step{Seq: 3, Op: OpHello}); err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(&b)
	var s Step
	if _, err := d.Next(&s); err != nil || d.LastToken != "feedc0de00000001" {
		t.Errorf("Next = %v, LastToken %q; want the host's token", err, d.LastToken)
	}
	if err := Encode(io.Discard, "two words", 1, &s); err == nil {
		t.Error("Encode accepted a token with a space")
	}
}
