package rubric_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"kmodgrade/grader/internal/fuzzcheck"
	"kmodgrade/grader/rubric"
)

// fuzzPath is the file name the fuzzed rubrics are parsed as.
const fuzzPath = "rubrics/fuzzed.yaml"

// brokenRubrics are seeds that Parse must turn down, each for another reason.
var brokenRubrics = []string{
	// Bad YAML: an unclosed list, a tab as indentation.
	"items: [\n  - name: load\n",
	"items:\n\t- name: load\n",
	// Wrong types.
	"name: [1, 2]\nitems: 3\n",
	"items:\n  - name: load\n    points: five\n    checks: [{kind: memory}]\n",
	// A duplicate key.
	"name: a\nname: b\nitems: []\n",
	// An unknown check kind.
	"items:\n  - name: load\n    points: 5\n    checks:\n      - kind: teleport\n",
	// Negative and not-a-number points.
	"items:\n  - name: load\n    points: -5\n    checks:\n      - kind: memory\n",
	"items:\n  - name: load\n    points: .nan\n    checks:\n      - kind: memory\n",
	// A weight on some checks only.
	"items:\n  - name: a\n    points: 1\n    checks:\n" +
		"      - {kind: memory, weight: 1}\n      - {kind: memory}\n",
	// A zero timeout.
	"timeouts: {step_seconds: 0}\nitems: []\n",
	// An alias to itself, nothing, an empty document.
	"a: &x [*x]\n",
	"",
	"---\n...\n",
}

// FuzzParse checks that Parse never panics or hangs, that every error it
// returns is a *rubric.Error naming the file, and that every rubric it
// accepts keeps the promises of the Rubric type (see checkCoherent).
func FuzzParse(f *testing.F) {
	m1, err := os.ReadFile("../../rubrics/milestone1.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m1)
	for _, s := range brokenRubrics {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r *rubric.Rubric
		var err error
		fuzzcheck.NoHang(t, hangLimit, func() { r, err = rubric.Parse(fuzzPath, data) })
		if err != nil {
			checkParseError(t, err)
			return
		}
		if err := checkCoherent(r); err != nil {
			t.Fatalf("Parse accepted an incoherent rubric: %v\n%s", err, data)
		}
	})
}

// hangLimit bounds one call of the code under test: longer is a hang. The
// fuzzing engine has no such limit: it would wait for a hung call until
// -fuzztime ends, and then pass.
const hangLimit = 10 * time.Second

// checkParseError checks that err is a *rubric.Error whose message names
// the file.
func checkParseError(t *testing.T, err error) {
	t.Helper()
	var re *rubric.Error
	if !errors.As(err, &re) || re.File != fuzzPath {
		t.Fatalf("error %q (%T) is not a *rubric.Error for %s", err, err, fuzzPath)
	}
	if !strings.Contains(err.Error(), fuzzPath) {
		t.Fatalf("error %q does not name %s", err, fuzzPath)
	}
}

// checkCoherent reports the first broken promise of an accepted rubric:
// its path and timeouts, at least one item, and each item's name, points
// and checks.
func checkCoherent(r *rubric.Rubric) error {
	if r.Path != fuzzPath {
		return fmt.Errorf("path %q, want %q", r.Path, fuzzPath)
	}
	for _, d := range []time.Duration{r.StepTimeout, r.BootTimeout} {
		if d <= 0 || d > time.Hour {
			return fmt.Errorf("timeout %v is not between 0 and 1h", d)
		}
	}
	if len(r.Items) == 0 {
		return errors.New("no items")
	}
	ids := map[string]bool{}
	for _, it := range r.Items {
		if err := checkItem(it, ids); err != nil {
			return fmt.Errorf("item %q: %w", it.Name, err)
		}
	}
	r.Plan()
	return nil
}

// checkItem checks one item and its checks; ids collects the checks' ids,
// which must be unique in the rubric.
func checkItem(it *rubric.Item, ids map[string]bool) error {
	if it.Name == "" || it.Short == "" {
		return errors.New("no name or short name")
	}
	if !finite(it.Points) || it.Points <= 0 {
		return fmt.Errorf("points %v", it.Points)
	}
	if len(it.Checks) == 0 {
		return errors.New("no checks")
	}
	weighted := 0
	for _, c := range it.Checks {
		if c.ID == "" || ids[c.ID] {
			return fmt.Errorf("check id %q is empty or not unique", c.ID)
		}
		ids[c.ID] = true
		if c.Kind == "" || c.Name == "" || c.Check == nil {
			return fmt.Errorf("check %q has no kind, name or implementation", c.ID)
		}
		if !finite(c.Weight) || c.Weight < 0 {
			return fmt.Errorf("check %q: weight %v", c.ID, c.Weight)
		}
		if c.Weight > 0 {
			weighted++
		}
		if err := c.Validate(); err != nil {
			return fmt.Errorf("check %q does not validate: %w", c.ID, err)
		}
	}
	if weighted != 0 && weighted != len(it.Checks) {
		return errors.New("some checks have a weight and some do not")
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// TestBrokenRubricsRejected checks that the broken seeds of FuzzParse are
// broken: Parse turns each down with an error naming the file.
func TestBrokenRubricsRejected(t *testing.T) {
	for _, s := range brokenRubrics {
		_, err := rubric.Parse(fuzzPath, []byte(s))
		if err == nil {
			t.Errorf("Parse accepted %q", s)
			continue
		}
		checkParseError(t, err)
	}
}
