package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestGradescope checks the fields Gradescope's results.json requires: a
// test per item with name, score, max_score and status, the total score and
// the execution time in whole seconds.
func TestGradescope(t *testing.T) {
	_, results := sample()
	bob := results[1]
	var b bytes.Buffer
	if err := Gradescope(&b, bob, 2300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["score"] != 5.0 || doc["execution_time"] != 3.0 {
		t.Errorf("score %v, execution_time %v; want 5 and 3", doc["score"], doc["execution_time"])
	}
	tests, _ := doc["tests"].([]any)
	if len(tests) != len(bob.Items) {
		t.Fatalf("%d tests, want one per item (%d)", len(tests), len(bob.Items))
	}
	for i, raw := range tests {
		tc := raw.(map[string]any)
		for _, field := range []string{"name", "score", "max_score", "status"} {
			if _, ok := tc[field]; !ok {
				t.Errorf("test %d has no %q: %v", i, field, tc)
			}
		}
		if s := tc["status"]; s != "passed" && s != "failed" {
			t.Errorf("test %d: status %v", i, s)
		}
	}
	reads := tests[1].(map[string]any)
	if reads["status"] != "failed" || !strings.Contains(reads["output"].(string), "read() returned 0 after 3 entries") {
		t.Errorf("the failed item: %v", reads)
	}

	var fail bytes.Buffer
	cy := results[2]
	if err := Gradescope(&fail, cy, time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fail.String(), "did not build") || !strings.Contains(fail.String(), "m.c:3: error: x") {
		t.Errorf("a build failure's output lacks the reason and the compiler's messages:\n%s", fail.String())
	}
}

// TestGradescopeFailure checks the results.json of a submission that could
// not be graded: valid, scored 0, and saying why.
func TestGradescopeFailure(t *testing.T) {
	var b bytes.Buffer
	if err := GradescopeFailure(&b, errors.New("qemu-system-x86_64: not found"), 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["score"] != 0.0 || doc["execution_time"] != 2.0 {
		t.Errorf("score %v, execution_time %v; want 0 and 2", doc["score"], doc["execution_time"])
	}
	if tests, ok := doc["tests"].([]any); !ok || len(tests) != 0 {
		t.Errorf("tests = %v, want an empty list", doc["tests"])
	}
	if out, _ := doc["output"].(string); !strings.Contains(out, "not with your work") ||
		!strings.Contains(out, "qemu-system-x86_64: not found") {
		t.Errorf("output = %q", out)
	}
}
