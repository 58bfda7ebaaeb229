package check

import (
	"strings"
	"testing"

	"kmodgrade/grader/step"
)

func TestShell(t *testing.T) {
	const (
		id  = "shell"
		cat = "cat /proc/csse332/status"
	)
	zero := 0
	output := func(out string, exit int) func(e *Evidence) {
		return observation(id, "shell",
			&step.Observation{Op: step.OpShell, Output: []byte(out), Exit: exit})
	}

	judge(t, id, &Shell{Command: cat, Expect: `(?m)^9: 0$`}, []verdictCase{
		{
			name:   "expect matches",
			passed: true,
			phrase: `"cat /proc/csse332/status" gave the expected output`,
		},
		{
			name:   "expect does not match",
			fault:  output("0: 0\n", 0),
			phrase: `the output of "cat /proc/csse332/status", "0: 0\n", does not match "(?m)^9: 0$"`,
		},
		{
			name:   "exit matches",
			check:  &Shell{Command: cat, Exit: &zero},
			passed: true,
			phrase: "gave the expected output",
		},
		{
			name:   "exit mismatch",
			check:  &Shell{Command: cat, Exit: &zero},
			fault:  output("cat: can't open '/proc/csse332/status': No such file\n", 1),
			phrase: `"cat /proc/csse332/status" exited 1, not 0; it printed "cat: can't open`,
		},
		{
			name:   "same as the reference",
			check:  &Shell{Command: cat, MatchReference: true},
			passed: true,
			phrase: "gave the expected output",
		},
		{
			name:   "unlike the reference",
			check:  &Shell{Command: cat, MatchReference: true},
			fault:  output("0: 0\n", 0),
			phrase: `printed "0: 0\n" (exit 0); the reference printed "0: 0\n1: 0\n`,
		},
		{
			name:   "exit unlike the reference",
			check:  &Shell{Command: cat, MatchReference: true},
			fault:  output("0: 0\n1: 0\n2: 0\n3: 0\n4: 0\n5: 0\n6: 0\n7: 0\n8: 0\n9: 0\n", 2),
			phrase: "(exit 2); the reference printed",
		},
		{
			name: "agent error",
			fault: observation(id, "shell", &step.Observation{Op: step.OpShell,
				Error: "timed out after 10s"}),
			phrase: `running "cat /proc/csse332/status": timed out after 10s`,
		},
		{
			name:   "module did not load",
			fault:  failedInsmod(id),
			phrase: "the module did not load",
		},
	})
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		check  Check
		phrase string // empty when valid
	}{
		{"memory", &Memory{MinAllocations: 1}, ""},
		{"negative min_allocations", &Memory{MinAllocations: -1}, "must not be negative"},
		{"proc_entry without file", &ProcEntry{Dir: procDir}, "needs dir and file"},
		{"write without path", &WriteInBounds{Length: length}, "path is missing"},
		{"zero length", &WriteInBounds{Path: procFile}, "length must be between 1 and 4096, not 0"},
		{"huge length", &ReadEntries{Path: procFile, Length: 5000}, "not 5000"},
		{"negative buffer", &ReadEntries{Path: procFile, Length: length, Buffer: -1},
			"buffer must be"},
		{"default out-of-bounds indices", &WriteOutOfBounds{Path: procFile, Length: length}, ""},
		{"index 0 is in bounds",
			&WriteOutOfBounds{Path: procFile, Length: length, Indices: []int{0}},
			"index 0 is inside the array (0..9)"},
		{"shell without command", &Shell{Expect: "x"}, "command is missing"},
		{"bad regexp", &Shell{Command: "true", Expect: "("}, "expect is not a regular expression"},
		{"shell timeout", &Shell{Command: "true", MatchReference: true, TimeoutSeconds: 301},
			"timeout_seconds must be between 1 and 300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check.Validate()
			switch {
			case tt.phrase == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.phrase != "" && (err == nil || !strings.Contains(err.Error(), tt.phrase)):
				t.Errorf("Validate() = %v, want %q", err, tt.phrase)
			}
		})
	}
}
