package check

import (
	"fmt"

	"kmodgrade/grader/step"
)

// ReadEntries checks that, on a fresh open, each read() returns exactly one
// entry, in index order, that the read after the last entry returns 0, and
// that opening the file again starts again at the first entry. It writes
// every entry first, since nothing says the array starts zeroed.
type ReadEntries struct {
	Path   string `yaml:"path"`
	Length int    `yaml:"length"`
	// Buffer is the size of the buffer each read() gets.
	Buffer int `yaml:"buffer"`
}

func (c *ReadEntries) Validate() error {
	if err := validArray(c.Path, c.Length); err != nil {
		return err
	}
	if c.Buffer < 0 || c.Buffer > 1<<20 {
		return fmt.Errorf("buffer must be between 1 and 1048576")
	}
	return nil
}

// readBase is where the values of this check start.
const readBase = 3007

func (c *ReadEntries) buffer() int {
	if c.Buffer == 0 {
		return 1000
	}
	return c.Buffer
}

func (c *ReadEntries) Plan(p *Plan, id string) {
	r := p.Run(id)
	writeSteps(r, id, id, c.Path, values(c.Length, readBase))
	for _, name := range []string{"first-open", "second-open"} {
		r.Loaded = append(r.Loaded, Step{Key: Key(id, id, name), Step: step.Step{
			Op: step.OpRead, Path: c.Path, BufSize: c.buffer(),
			MaxReads: c.Length + 3, MaxBytes: 64 << 10}})
	}
}

func (c *ReadEntries) Judge(id string, sub, ref *Evidence) Verdict {
	if _, why := sub.loaded(id); why != "" {
		return failf("%s", why)
	}
	vals := values(c.Length, readBase)
	if why := checkWrites(sub, ref, id, id, c.Path, vals); why != "" {
		vals = nil // judge the framing alone; the write item says what is wrong
	}
	for _, name := range []string{"first-open", "second-open"} {
		o, why := sub.Get(Key(id, id, name))
		if o == nil {
			return failf("%s", why)
		}
		if msg := c.judgeReads(o, vals); msg != "" {
			if name == "second-open" {
				msg = "after closing the file and opening it again, " + msg
			}
			return failf("%s", msg)
		}
	}
	return pass("each read() returned one entry, in order, then 0; a new open started over")
}

// judgeReads checks one open's reads. With vals nil (the writes failed) it
// can only check the framing: one non-empty read per entry, then 0.
func (c *ReadEntries) judgeReads(o *step.Observation, vals []int) string {
	if o.Errno != "" {
		return fmt.Sprintf("opening %s failed with %s", c.Path, o.Errno)
	}
	if vals != nil && !c.anyValue(o, vals) {
		vals = nil
	}
	for i := 0; i < c.Length; i++ {
		if i >= len(o.Reads) {
			return fmt.Sprintf("read() was called %d times only", len(o.Reads))
		}
		r := o.Reads[i]
		switch {
		case r.Errno != "":
			return fmt.Sprintf("read() number %d (buffer of %d bytes) failed with %s", i+1, c.buffer(), r.Errno)
		case r.N == 0 && i == 1:
			return fmt.Sprintf("the first read() returned %s and the second returned 0: each read() must "+
				"return one entry, not all %d at once", quoteBytes(o.Reads[0].Data), c.Length)
		case r.N == 0:
			return fmt.Sprintf("read() returned 0 after %d entries; there are %d", i, c.Length)
		}
		if vals == nil {
			continue
		}
		which := entriesIn(r.Data, vals)
		switch {
		case len(which) > 1:
			return fmt.Sprintf("read() number %d returned %s, which holds %d entries: each read() must "+
				"return exactly one", i+1, quoteBytes(r.Data), len(which))
		case len(which) == 0:
			return fmt.Sprintf("read() number %d returned %s, which holds none of the values written "+
				"(%d was written at index %d)", i+1, quoteBytes(r.Data), vals[i], i)
		case which[0] != i:
			return fmt.Sprintf("read() number %d returned entry %d (%d); entries must come in index order, "+
				"so it should be entry %d (%d)", i+1, which[0], vals[which[0]], i, vals[i])
		}
	}
	if len(o.Reads) <= c.Length {
		return fmt.Sprintf("the read after the last entry was not made (%d reads)", len(o.Reads))
	}
	last := o.Reads[c.Length]
	switch {
	case last.Errno != "":
		return fmt.Sprintf("after the last entry, read() failed with %s; it should return 0", last.Errno)
	case last.N != 0:
		return fmt.Sprintf("after the last entry, read() returned %d bytes (%s) instead of 0: return 0 "+
			"once *offp is past the last entry", last.N, quoteBytes(last.Data))
	}
	return ""
}

// anyValue reports whether any read holds any of the values written.
func (c *ReadEntries) anyValue(o *step.Observation, vals []int) bool {
	for _, r := range o.Reads {
		if len(entriesIn(r.Data, vals)) > 0 {
			return true
		}
	}
	return false
}

// entriesIn returns the indices of the values found in data, in order.
func entriesIn(data []byte, vals []int) []int {
	index := map[int]int{}
	for i, v := range vals {
		index[v] = i
	}
	var out []int
	for _, v := range integers(data) {
		if i, ok := index[v]; ok {
			out = append(out, i)
		}
	}
	return out
}
