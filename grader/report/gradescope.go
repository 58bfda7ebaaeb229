package report

import (
	"encoding/json"
	"io"
	"math"
	"strings"
	"time"

	"kmodgrade/grader/grade"
)

// gradescopeResults is the results.json of a Gradescope autograder: a test
// per rubric item.
type gradescopeResults struct {
	Score         float64          `json:"score"`
	ExecutionTime int              `json:"execution_time"`
	Output        string           `json:"output,omitempty"`
	Tests         []gradescopeTest `json:"tests"`
}

type gradescopeTest struct {
	Name     string  `json:"name"`
	Score    float64 `json:"score"`
	MaxScore float64 `json:"max_score"`
	Status   string  `json:"status"` // "passed" or "failed"
	Output   string  `json:"output,omitempty"`
}

// Gradescope writes one submission's result as Gradescope's results.json:
// a test per rubric item with its points, and the reasons for points lost as
// the test's output, as grader check prints them.
func Gradescope(w io.Writer, r *grade.Result, took time.Duration) error {
	out := gradescopeResults{Score: r.Score, ExecutionTime: int(math.Ceil(took.Seconds()))}
	if r.Status != grade.StatusGraded && len(r.Items) > 0 && len(r.Items[0].Checks) > 0 {
		out.Output = r.Items[0].Checks[0].Message
		if r.Build != "" {
			out.Output += "\n\nCompiler output:\n" + r.Build
		}
	}
	for _, it := range r.Items {
		t := gradescopeTest{Name: it.Name, Score: it.Score, MaxScore: it.MaxScore, Status: "passed"}
		if it.Score < it.MaxScore {
			t.Status = "failed"
		}
		var lines []string
		for _, c := range it.Checks {
			if !c.Passed {
				lines = append(lines, "- "+c.Message)
				if c.Try != "" {
					lines = append(lines, "  to see it yourself: "+c.Try)
				}
			}
		}
		t.Output = strings.Join(lines, "\n")
		out.Tests = append(out.Tests, t)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// GradescopeFailure writes the results.json of a submission the autograder
// could not grade at all (QEMU or the kernel missing, say): score 0, and an
// output that tells the student the fault is not theirs.
func GradescopeFailure(w io.Writer, reason error, took time.Duration) error {
	out := gradescopeResults{ExecutionTime: int(math.Ceil(took.Seconds())), Tests: []gradescopeTest{},
		Output: "The autograder could not grade this submission; this is a problem with the " +
			"autograder, not with your work, and your instructor can see it:\n" + reason.Error()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
