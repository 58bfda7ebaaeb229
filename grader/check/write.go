package check

import (
	"fmt"

	"kmodgrade/grader/step"
)

// WriteInBounds checks that writing "INDEX VALUE" stores VALUE at INDEX for
// every index of the array, by reading the whole file back.
type WriteInBounds struct {
	Path   string `yaml:"path"`
	Length int    `yaml:"length"`
}

func (c *WriteInBounds) Validate() error { return validArray(c.Path, c.Length) }

// inBoundsBase is where the values of the in-bounds writes start.
const inBoundsBase = 7001

func (c *WriteInBounds) Plan(p *Plan, id string) {
	r := p.Run(id)
	writeSteps(r, id, id, c.Path, values(c.Length, inBoundsBase))
	r.Loaded = append(r.Loaded, Step{Key: Key(id, id, "readback"), Step: readAll(c.Path)})
}

func (c *WriteInBounds) Judge(id string, sub, ref *Evidence) Verdict {
	if _, why := sub.loaded(id); why != "" {
		return failf("%s", why)
	}
	vals := values(c.Length, inBoundsBase)
	if why := checkWrites(sub, ref, id, id, c.Path, vals); why != "" {
		return failf("%s", why)
	}
	o, why := sub.Get(Key(id, id, "readback"))
	if o == nil {
		return failf("the writes returned success, but %s", why)
	}
	data, why := readBack(o)
	if data == nil {
		return failf("the writes returned success, but %s", why)
	}
	if !subsequence(vals, integers(data)) {
		return failf("after writing %s to indices 0..%d, reading %s gives %s: the values are not all "+
			"there, in index order", intList(vals), c.Length-1, c.Path, quoteBytes(data))
	}
	return pass("each of the %d indices stored its value", c.Length)
}

// WriteOutOfBounds checks that a write to an index outside the array fails
// with an error (EINVAL) and leaves the array as it was.
type WriteOutOfBounds struct {
	Path   string `yaml:"path"`
	Length int    `yaml:"length"`
	// Indices are the indices to try; by default -1, length, length+1 and
	// a large one.
	Indices []int `yaml:"indices"`
	// Errno is the error write() must fail with, such as "EINVAL". Empty
	// means: the error the reference fails with.
	Errno string `yaml:"errno"`
}

func (c *WriteOutOfBounds) Validate() error {
	if err := validArray(c.Path, c.Length); err != nil {
		return err
	}
	for _, i := range c.indices() {
		if i >= 0 && i < c.Length {
			return fmt.Errorf("index %d is inside the array (0..%d)", i, c.Length-1)
		}
	}
	return nil
}

func (c *WriteOutOfBounds) indices() []int {
	if len(c.Indices) > 0 {
		return c.Indices
	}
	return []int{-1, c.Length, c.Length + 1, 1000000}
}

// outOfBoundsBase and sentinel are the values of this check: the array
// first, then the value the out-of-bounds writes try to store.
const (
	outOfBoundsBase = 5003
	sentinel        = 999331
)

func (c *WriteOutOfBounds) Plan(p *Plan, id string) {
	r := p.Run(id)
	writeSteps(r, id, id, c.Path, values(c.Length, outOfBoundsBase))
	for n, i := range c.indices() {
		r.Loaded = append(r.Loaded, Step{Key: Key(id, id, fmt.Sprintf("oob%d", n)),
			Step: step.Step{Op: step.OpWrite, Path: c.Path, Data: command(i, sentinel)}})
	}
	r.Loaded = append(r.Loaded, Step{Key: Key(id, id, "readback"), Step: readAll(c.Path)})
}

func (c *WriteOutOfBounds) Judge(id string, sub, ref *Evidence) Verdict {
	if _, why := sub.loaded(id); why != "" {
		return failf("%s", why)
	}
	want := c.Errno
	for n, i := range c.indices() {
		key := Key(id, id, fmt.Sprintf("oob%d", n))
		o, why := sub.Get(key)
		if o == nil {
			return failf("%s", why)
		}
		if c.Errno == "" {
			if r, _ := ref.Get(key); r != nil {
				want = r.Errno
			}
		}
		cmd := quoteBytes(command(i, sentinel))
		switch {
		case o.Errno == "":
			return failf("writing %s returned %d, success; index %d is outside 0..%d, so write() "+
				"must fail with %s (return -%s)", cmd, o.N, i, c.Length-1, want, want)
		case o.Errno != want:
			return failf("writing %s failed with %s; it should fail with %s", cmd, o.Errno, want)
		}
	}

	vals := values(c.Length, outOfBoundsBase)
	o, why := sub.Get(Key(id, id, "readback"))
	if o == nil {
		return failf("the out-of-bounds writes failed as they should, but then %s", why)
	}
	data, why := readBack(o)
	if data == nil {
		return failf("the out-of-bounds writes failed as they should, but %s", why)
	}
	got := integers(data)
	for _, v := range got {
		if v == sentinel {
			return failf("the out-of-bounds writes returned errors, but reading %s afterwards "+
				"shows %d, the value they tried to store: check the index before storing", c.Path, sentinel)
		}
	}
	if !subsequence(vals, got) {
		return failf("the out-of-bounds writes failed as they should, but afterwards reading %s "+
			"gives %s instead of the values written before them (%s)", c.Path, quoteBytes(data),
			intList(vals))
	}
	return pass("writes to indices %s failed with %s and left the array unchanged",
		intList(c.indices()), want)
}

func validArray(path string, length int) error {
	if path == "" {
		return fmt.Errorf("path is missing")
	}
	if length < 1 || length > 4096 {
		return fmt.Errorf("length must be between 1 and 4096, not %d", length)
	}
	return nil
}

func intList(v []int) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(x)
	}
	return s
}
