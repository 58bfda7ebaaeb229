package check

import (
	"fmt"
	"strings"
	"testing"

	"kmodgrade/grader/step"
)

// opened sets the reads of one open of the read_entries check.
func opened(name string, r []step.Read) func(e *Evidence) {
	return observation("read-entries", name, &step.Observation{Op: step.OpRead, Reads: r})
}

// writesFail makes every write of the read_entries check fail.
func writesFail(e *Evidence) {
	for i := 0; i < length; i++ {
		observation("read-entries", fmt.Sprintf("write%d", i),
			&step.Observation{Op: step.OpWrite, Errno: "EINVAL"})(e)
	}
}

func TestReadEntries(t *testing.T) {
	const id = "read-entries"
	vals := values(length, readBase)
	all := entries(vals)
	swapped := append([]string{}, all...)
	swapped[2], swapped[3] = swapped[3], swapped[2]
	zeros := entries(make([]int, length))
	emptyAt3 := append([]string{}, all...)
	emptyAt3[3] = "3: 0\n"
	wraps := reads(append(append([]string{}, all...), all[0], all[1])...)
	wraps = wraps[:len(wraps)-1] // no read returns 0
	withError := reads(all...)
	withError[4] = step.Read{Errno: "EFAULT"}

	judge(t, id, &ReadEntries{Path: procFile, Length: length, Buffer: 1000}, []verdictCase{
		{
			name:   "one entry per read, then 0",
			passed: true,
			phrase: "each read() returned one entry, in order, then 0; a new open started over",
		},
		{
			name:   "all entries in the first read",
			fault:  opened("first-open", reads(strings.Join(all, ""))),
			phrase: "which holds 10 entries: each read() must return exactly one",
		},
		{
			name:   "never returns 0",
			fault:  opened("first-open", wraps),
			phrase: `after the last entry, read() returned 8 bytes ("0: 3007\n") instead of 0`,
		},
		{
			name:   "second open does not start over",
			fault:  opened("second-open", reads()),
			phrase: "after closing the file and opening it again, read() returned 0 after 0 entries; there are 10",
		},
		{
			name:   "stops early",
			fault:  opened("first-open", reads(all[:4]...)),
			phrase: "read() returned 0 after 4 entries; there are 10",
		},
		{
			name:   "out of order",
			fault:  opened("first-open", reads(swapped...)),
			phrase: "read() number 3 returned entry 3 (6340); entries must come in index order, so it should be entry 2 (5229)",
		},
		{
			name:   "an entry without its value",
			fault:  opened("first-open", reads(emptyAt3...)),
			phrase: "read() number 4 returned \"3: 0\\n\", which holds none of the values written (6340 was written at index 3)",
		},
		{
			name:   "a read fails",
			fault:  opened("first-open", withError),
			phrase: "read() number 5 (buffer of 1000 bytes) failed with EFAULT",
		},
		{
			name: "open fails",
			fault: observation(id, "first-open", &step.Observation{Op: step.OpRead, Errno: "EACCES",
				Error: "open /proc/csse332/status: permission denied"}),
			phrase: "opening /proc/csse332/status failed with EACCES",
		},
		{
			name: "writes failed, framing good",
			fault: func(e *Evidence) {
				writesFail(e)
				opened("first-open", reads(zeros...))(e)
				opened("second-open", reads(zeros...))(e)
			},
			passed: true,
			phrase: "each read() returned one entry",
		},
		{
			name: "writes failed, all at once",
			fault: func(e *Evidence) {
				writesFail(e)
				opened("first-open", reads(strings.Join(zeros, "")))(e)
			},
			phrase: "and the second returned 0: each read() must return one entry, not all 10 at once",
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
