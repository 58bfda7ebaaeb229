package build

import (
	"strings"
	"testing"
)

func TestDriftHint(t *testing.T) {
	for _, tc := range []struct {
		name, out, hint string
	}{
		{"task state, UTF-8 quotes",
			"m.c:73:69: error: ‘struct task_struct’ has no member named ‘state’; did you mean ‘stats’?",
			"renamed __state in Linux 5.14"},
		{"task state, ASCII quotes",
			"m.c:73:69: error: 'struct task_struct' has no member named 'state'",
			"renamed __state in Linux 5.14"},
		{"file_operations in proc_create",
			"m.c:90:51: error: passing argument 4 of ‘proc_create’ from incompatible pointer type",
			"since Linux 5.6, proc_create takes a struct proc_ops"},
		{"proc_ops with an owner",
			"m.c:80:10: error: ‘struct proc_ops’ has no member named ‘owner’",
			"has no .owner"},
		{"a typo", "m.c:3:1: error: expected ‘;’ before ‘}’ token", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := driftHint(tc.out, "6.1.0-57-amd64")
			if tc.hint == "" {
				if got != "" {
					t.Errorf("a typo got a version hint: %q", got)
				}
				return
			}
			if !strings.Contains(got, tc.hint) || !strings.Contains(got, "the grading kernel is 6.1.0-57-amd64") {
				t.Errorf("hint %q does not say %q and the kernel", got, tc.hint)
			}
		})
	}
}
