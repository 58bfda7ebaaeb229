// Package grade grades submissions against a rubric: it builds each module,
// runs the rubric's plan in disposable guests, and judges the observations
// next to the reference's.
package grade

import (
	"math"
	"time"

	"kmodgrade/grader/check"
	"kmodgrade/grader/rubric"
)

// The statuses of a Result.
const (
	StatusGraded      = "graded"       // built and run; the items say the rest
	StatusBuildFailed = "build-failed" // did not build: every item scores 0
	StatusError       = "error"        // the grader could not grade it
	StatusBadUpload   = "bad-upload"   // the upload holds no module to build: every item scores 0
)

// Result is the grade of one submission.
type Result struct {
	ID   string `json:"id"`
	Path string `json:"path"`
	// Rubric is the name of the rubric it was graded with.
	Rubric string `json:"rubric,omitempty"`
	// Name and ParticipantID are the student's, from a Moodle download.
	Name          string       `json:"name,omitempty"`
	ParticipantID string       `json:"participant_id,omitempty"`
	Score         float64      `json:"score"`
	MaxScore      float64      `json:"max_score"`
	Status        string       `json:"status"`
	Error         string       `json:"error,omitempty"`
	Module        string       `json:"module,omitempty"`
	Build         string       `json:"build_output,omitempty"`
	Items         []ItemResult `json:"items"`
	// Timing says where the grading time went.
	Timing *Timing `json:"timing,omitempty"`
	// Inputs identifies what the grade was computed from (sources, rubric,
	// reference, kernel), so that an unchanged submission is not graded again.
	Inputs string `json:"inputs,omitempty"`
}

// ItemResult is the score of one rubric item.
type ItemResult struct {
	Name     string        `json:"name"`
	Short    string        `json:"short,omitempty"`
	Score    float64       `json:"score"`
	MaxScore float64       `json:"max_score"`
	Checks   []CheckResult `json:"checks"`
}

// CheckResult is the verdict of one check.
type CheckResult struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
	// Try says how a student can see a failed check's problem by hand, in
	// their own VM.
	Try string `json:"try,omitempty"`
}

// Judge scores every item of the rubric from the evidence.
func Judge(r *rubric.Rubric, sub, ref *check.Evidence) []ItemResult {
	var items []ItemResult
	for _, it := range r.Items {
		ir := ItemResult{Name: it.Name, Short: it.Short, MaxScore: it.Points}
		var got, all float64
		passedAll := true
		for _, c := range it.Checks {
			v := c.Judge(c.ID, sub, ref)
			cr := CheckResult{Name: c.Name, Passed: v.Passed, Message: v.Message}
			if t, ok := c.Check.(check.Tryer); ok && !v.Passed {
				cr.Try = t.Try()
			}
			ir.Checks = append(ir.Checks, cr)
			all += c.Weight
			if v.Passed {
				got += c.Weight
			} else {
				passedAll = false
			}
		}
		switch {
		case passedAll:
			ir.Score = it.Points
		case all > 0:
			ir.Score = round(it.Points * got / all)
		}
		items = append(items, ir)
	}
	return items
}

// failAll gives every item of the rubric 0 with the same message.
func failAll(r *rubric.Rubric, msg string) []ItemResult {
	var items []ItemResult
	for _, it := range r.Items {
		ir := ItemResult{Name: it.Name, Short: it.Short, MaxScore: it.Points}
		for _, c := range it.Checks {
			ir.Checks = append(ir.Checks, CheckResult{Name: c.Name, Message: msg})
		}
		items = append(items, ir)
	}
	return items
}

// total sums the items' scores.
func total(items []ItemResult) float64 {
	s := 0.0
	for _, it := range items {
		s += it.Score
	}
	return round(s)
}

func round(v float64) float64 { return math.Round(v*100) / 100 }

// Timing says where the time of one submission's grading went.
type Timing struct {
	Build  time.Duration `json:"build_ns"`
	Guests time.Duration `json:"guests_ns"` // booting or restoring guests
	Steps  time.Duration `json:"steps_ns"`  // carrying out the plan in them
	Judge  time.Duration `json:"judge_ns"`
	// GuestsStarted counts the guests: one, and one more after each crash.
	GuestsStarted int `json:"guests_started"`
}

// Total is the time the submission took to grade.
func (t Timing) Total() time.Duration { return t.Build + t.Guests + t.Steps + t.Judge }
