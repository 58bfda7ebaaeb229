package check

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"kmodgrade/grader/step"
)

// quoteLines quotes up to n lines for a message, saying how many were left out.
func quoteLines(lines []string, n int) string {
	var q []string
	for i, l := range lines {
		if i == n {
			q = append(q, fmt.Sprintf("and %d more", len(lines)-n))
			break
		}
		q = append(q, strconv.Quote(l))
	}
	if len(q) == 0 {
		return "nothing"
	}
	return strings.Join(q, ", ")
}

// quoteBytes quotes data for a message, cut to a readable length.
func quoteBytes(b []byte) string {
	const n = 60
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + fmt.Sprintf(" (%d bytes in all)", len(b))
	}
	return strconv.Quote(string(b))
}

var integer = regexp.MustCompile(`-?\d+`)

// integers returns the integers written in text, in order.
func integers(b []byte) []int {
	var out []int
	for _, m := range integer.FindAll(b, -1) {
		if v, err := strconv.Atoi(string(m)); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// subsequence reports whether want appears in have in order, not necessarily
// next to each other, so that any format of an entry ("7001", "3: 7001",
// "arr[3] = 7001") passes.
func subsequence(want, have []int) bool {
	i := 0
	for _, v := range have {
		if i < len(want) && v == want[i] {
			i++
		}
	}
	return i == len(want)
}

// values returns the distinct values a check writes at indices 0..n-1. They
// are unlike indices and unlike each other, so that reading them back
// cannot succeed by accident.
func values(n, base int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = base + 1111*i
	}
	return v
}

// command is what a user types to store value at index: echo "I V" > path.
func command(index, value int) []byte {
	return []byte(fmt.Sprintf("%d %d\n", index, value))
}

// writeSteps adds the steps that store vals at indices 0..len-1.
func writeSteps(r *Run, run, id, path string, vals []int) {
	for i, v := range vals {
		r.Loaded = append(r.Loaded, Step{Key: Key(run, id, fmt.Sprintf("write%d", i)),
			Step: step.Step{Op: step.OpWrite, Path: path, Data: command(i, v)}})
	}
}

// checkWrites reports the first in-bounds write that did not store the
// whole command, next to what the reference did with it.
func checkWrites(e, ref *Evidence, run, id, path string, vals []int) string {
	for i := range vals {
		key := Key(run, id, fmt.Sprintf("write%d", i))
		o, why := e.Get(key)
		if o == nil {
			return why
		}
		want := len(command(i, vals[i]))
		if r, _ := ref.Get(key); r != nil && r.Errno == "" {
			want = r.N
		}
		if o.Errno != "" {
			return fmt.Sprintf("writing %s to %s failed with %s (%s), but index %d is in bounds",
				quoteBytes(command(i, vals[i])), path, o.Errno, o.Error, i)
		}
		if o.N != want {
			return fmt.Sprintf("writing %s returned %d; it should return %d, the number of bytes written",
				quoteBytes(command(i, vals[i])), o.N, want)
		}
	}
	return ""
}

// readAll reads the whole file, bounded, with a large buffer: a check
// of the write handler must not depend on how the read handler frames its
// entries.
func readAll(path string) step.Step {
	return step.Step{Op: step.OpRead, Path: path, BufSize: 4096, MaxReads: 64, MaxBytes: 16 << 10}
}

// readBack returns the bytes a bounded whole-file read got, or why it failed.
func readBack(o *step.Observation) ([]byte, string) {
	if o.Errno != "" || o.Error != "" {
		return nil, fmt.Sprintf("opening it to read the array back failed: %s", o.Error)
	}
	var data []byte
	for i, r := range o.Reads {
		if r.Errno != "" {
			if len(data) > 0 {
				break
			}
			return nil, fmt.Sprintf("read() number %d failed with %s", i+1, r.Errno)
		}
		data = append(data, r.Data...)
	}
	if len(data) == 0 {
		return nil, "reading it returned nothing, so the values written could not be checked " +
			"(the read handler returns 0 at once)"
	}
	return data, ""
}
