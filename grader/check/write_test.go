package check

import (
	"fmt"
	"strings"
	"testing"

	"kmodgrade/grader/step"
)

// observation sets the observation of a check's step, keyed in its own run.
func observation(id, name string, o *step.Observation) func(e *Evidence) {
	return func(e *Evidence) { e.Obs[Key(id, id, name)] = o }
}

// readback is a bounded whole-file read that got chunks.
func readback(chunks ...string) *step.Observation {
	return &step.Observation{Op: step.OpRead, Reads: reads(chunks...)}
}

// without returns the entries of vals, leaving out index skip.
func without(vals []int, skip int) []string {
	var out []string
	for i, v := range vals {
		if i != skip {
			out = append(out, entry(i, v))
		}
	}
	return out
}

func TestWriteInBounds(t *testing.T) {
	const id = "write-in-bounds"
	vals := values(length, inBoundsBase)
	oneOff := append([]int{0}, vals[:length-1]...)
	formatted := func(format string) []string {
		var out []string
		for i, v := range vals {
			out = append(out, fmt.Sprintf(format, i, v))
		}
		return out
	}

	judge(t, id, &WriteInBounds{Path: procFile, Length: length}, []verdictCase{
		{
			name:   "good",
			passed: true,
			phrase: "each of the 10 indices stored its value",
		},
		{
			name:   "read all at once",
			fault:  observation(id, "readback", readback(strings.Join(entries(vals), ""))),
			passed: true,
			phrase: "stored its value",
		},
		{
			name:   "another format",
			fault:  observation(id, "readback", readback(formatted("arr[%d] = %d, ")...)),
			passed: true,
			phrase: "stored its value",
		},
		{
			name: "a write fails with EINVAL",
			fault: observation(id, "write3", &step.Observation{Op: step.OpWrite, Errno: "EINVAL",
				Error: "write /proc/csse332/status: invalid argument"}),
			phrase: `writing "3 10334\n" to /proc/csse332/status failed with EINVAL ` +
				`(write /proc/csse332/status: invalid argument), but index 3 is in bounds`,
		},
		{
			name:   "a write returns too few bytes",
			fault:  observation(id, "write3", &step.Observation{Op: step.OpWrite, N: 1}),
			phrase: `writing "3 10334\n" returned 1; it should return 8, the number of bytes written`,
		},
		{
			name:   "readback missing a value",
			fault:  observation(id, "readback", readback(without(vals, 5)...)),
			phrase: "the values are not all there, in index order",
		},
		{
			name:   "stored one index off",
			fault:  observation(id, "readback", readback(entries(oneOff)...)),
			phrase: `reading /proc/csse332/status gives "0: 0\n1: 7001\n`,
		},
		{
			name:   "readback empty",
			fault:  observation(id, "readback", readback()),
			phrase: "the writes returned success, but reading it returned nothing",
		},
		{
			name: "readback read() fails",
			fault: observation(id, "readback", &step.Observation{Op: step.OpRead,
				Reads: []step.Read{{Errno: "EFAULT"}}}),
			phrase: "read() number 1 failed with EFAULT",
		},
		{
			name: "readback open fails",
			fault: observation(id, "readback", &step.Observation{Op: step.OpRead, Errno: "ENOENT",
				Error: "open /proc/csse332/status: no such file or directory"}),
			phrase: "opening it to read the array back failed: open /proc/csse332/status",
		},
		{
			name:   "module did not load",
			fault:  failedInsmod(id),
			phrase: "the module did not load",
		},
		{
			name:   "crashed while loaded",
			fault:  crashed(id),
			phrase: "the kernel crashed while reading /proc/csse332/status",
		},
	})
}

func TestWriteOutOfBounds(t *testing.T) {
	const id = "write-out-of-bounds"
	vals := values(length, outOfBoundsBase)
	sentinelAt9 := append(append([]int{}, vals[:9]...), sentinel)

	judge(t, id, &WriteOutOfBounds{Path: procFile, Length: length,
		Indices: []int{-1, 10, 11, 1000000}, Errno: "EINVAL"}, []verdictCase{
		{
			name:   "good",
			passed: true,
			phrase: "writes to indices -1, 10, 11, 1000000 failed with EINVAL and left the array unchanged",
		},
		{
			name:   "default indices, errno of the reference",
			check:  &WriteOutOfBounds{Path: procFile, Length: length},
			passed: true,
			phrase: "writes to indices -1, 10, 11, 1000000 failed with EINVAL",
		},
		{
			name:   "an out-of-bounds write succeeds",
			fault:  observation(id, "oob1", &step.Observation{Op: step.OpWrite, N: 11}),
			phrase: `writing "10 999331\n" returned 11, success; index 10 is outside 0..9, so write() must fail with EINVAL`,
		},
		{
			name:   "wrong errno",
			fault:  observation(id, "oob0", &step.Observation{Op: step.OpWrite, Errno: "EFAULT"}),
			phrase: `writing "-1 999331\n" failed with EFAULT; it should fail with EINVAL`,
		},
		{
			name:   "wrong errno next to the reference's",
			check:  &WriteOutOfBounds{Path: procFile, Length: length},
			fault:  observation(id, "oob3", &step.Observation{Op: step.OpWrite, Errno: "ENOMEM"}),
			phrase: "failed with ENOMEM; it should fail with EINVAL",
		},
		{
			name:   "sentinel visible afterwards",
			fault:  observation(id, "readback", readback(entries(sentinelAt9)...)),
			phrase: "shows 999331, the value they tried to store: check the index before storing",
		},
		{
			name:   "array changed",
			fault:  observation(id, "readback", readback(without(vals, 0)...)),
			phrase: "instead of the values written before them (5003, 6114,",
		},
		{
			name:   "readback empty",
			fault:  observation(id, "readback", readback()),
			phrase: "failed as they should, but reading it returned nothing",
		},
		{
			name:   "module did not load",
			fault:  failedInsmod(id),
			phrase: "the module did not load",
		},
	})
}

func TestValues(t *testing.T) {
	tests := []struct {
		base  int
		index int
		want  int
	}{
		{inBoundsBase, 0, 7001},
		{inBoundsBase, 3, 10334},
		{outOfBoundsBase, 9, 15002},
		{readBase, 3, 6340},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d+%d", tt.base, tt.index), func(t *testing.T) {
			if got := values(length, tt.base)[tt.index]; got != tt.want {
				t.Errorf("values(%d, %d)[%d] = %d, want %d",
					length, tt.base, tt.index, got, tt.want)
			}
		})
	}

	seen := map[int]bool{sentinel: true}
	for _, base := range []int{inBoundsBase, outOfBoundsBase, readBase} {
		for _, v := range values(length, base) {
			if seen[v] || v < length {
				t.Errorf("value %d is an index, the sentinel, or another check's value", v)
			}
			seen[v] = true
		}
	}
}
