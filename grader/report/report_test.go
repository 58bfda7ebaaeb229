package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/rubric"
)

func sample() (*rubric.Rubric, []*grade.Result) {
	rb := &rubric.Rubric{Name: "m1", Items: []*rubric.Item{
		{Name: "Loads", Short: "load", Points: 5}, {Name: "Reads", Short: "read", Points: 40}}}
	results := []*grade.Result{
		{ID: "ada", Score: 45, MaxScore: 45, Status: grade.StatusGraded, Items: []grade.ItemResult{
			{Name: "Loads", Short: "load", Score: 5, MaxScore: 5},
			{Name: "Reads", Short: "read", Score: 40, MaxScore: 40}}},
		{ID: "bob", Score: 5, MaxScore: 45, Status: grade.StatusGraded, Items: []grade.ItemResult{
			{Name: "Loads", Score: 5, MaxScore: 5},
			{Name: "Reads", Score: 0, MaxScore: 40, Checks: []grade.CheckResult{
				{Name: "read_entries", Message: "read() returned 0 after 3 entries"}}}}},
		{ID: "cy", Score: 0, MaxScore: 45, Status: grade.StatusBuildFailed, Build: "m.c:3: error: x",
			Items: []grade.ItemResult{{Name: "Loads", MaxScore: 5, Checks: []grade.CheckResult{
				{Message: "the module did not build: make exited 2"}}}, {Name: "Reads", MaxScore: 40}}},
	}
	return rb, results
}

func TestTable(t *testing.T) {
	_, results := sample()
	var b bytes.Buffer
	if err := Table(&b, results); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"load /5", "read /40", "total /45", "ada", "bob", "build-failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, row := range strings.Split(out, "\n") {
		if strings.Contains(row, "bob") && !strings.Contains(row, " 5 ") {
			t.Errorf("bob's row lacks his score: %s", row)
		}
	}
}

func TestDetails(t *testing.T) {
	_, results := sample()
	var b bytes.Buffer
	Details(&b, results)
	out := b.String()
	if strings.Contains(out, "ada") {
		t.Errorf("full marks need no details:\n%s", out)
	}
	for _, want := range []string{"bob (5/45):", "Reads (0/40): read() returned 0 after 3 entries",
		"cy (0/45):", "| m.c:3: error: x"} {
		if !strings.Contains(out, want) {
			t.Errorf("details lack %q:\n%s", want, out)
		}
	}
}

func TestJSON(t *testing.T) {
	rb, results := sample()
	var b bytes.Buffer
	if err := JSON(&b, rb.Name, results); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rubric      string  `json:"rubric"`
		MaxScore    float64 `json:"max_score"`
		Submissions []struct {
			ID     string  `json:"id"`
			Score  float64 `json:"score"`
			Status string  `json:"status"`
			Items  []struct {
				Name   string `json:"name"`
				Checks []struct {
					Passed  bool   `json:"passed"`
					Message string `json:"message"`
				} `json:"checks"`
			} `json:"items"`
		} `json:"submissions"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Rubric != "m1" || doc.MaxScore != 45 || len(doc.Submissions) != 3 {
		t.Fatalf("document: %+v", doc)
	}
	bob := doc.Submissions[1]
	if bob.ID != "bob" || bob.Score != 5 || bob.Items[1].Checks[0].Message == "" {
		t.Errorf("bob: %+v", bob)
	}
}
