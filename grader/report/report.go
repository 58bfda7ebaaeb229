// Package report renders grading results: a table for people, JSON for
// programs.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"kmodgrade/grader/grade"
)

// Table writes a row per result: its score on each item, and the total.
// The columns come from the first result's items (every result of a run
// has the rubric's items, in order).
func Table(w io.Writer, results []*grade.Result) error {
	t := tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignment(tw.AlignRight))
	header := []any{"submission"}
	maxScore := 0.0
	if len(results) > 0 {
		for _, it := range results[0].Items {
			header = append(header, fmt.Sprintf("%s /%s", short(it), num(it.MaxScore)))
		}
		maxScore = results[0].MaxScore
	}
	header = append(header, fmt.Sprintf("total /%s", num(maxScore)), "status")
	t.Header(header...)
	for _, res := range results {
		row := []any{res.ID}
		for _, it := range res.Items {
			row = append(row, num(it.Score))
		}
		row = append(row, num(res.Score), res.Status)
		if err := t.Append(row...); err != nil {
			return err
		}
	}
	return t.Render()
}

// Details writes, for each result that lost points, why: every failed check
// with its message, and the compiler's output for a build that failed.
func Details(w io.Writer, results []*grade.Result) {
	for _, res := range results {
		if res.Score == res.MaxScore && res.Status == grade.StatusGraded {
			continue
		}
		fmt.Fprintf(w, "\n%s (%s/%s):\n", res.ID, num(res.Score), num(res.MaxScore))
		if res.Error != "" {
			fmt.Fprintf(w, "  not graded: %s\n", res.Error)
			continue
		}
		if res.Status == grade.StatusBadUpload {
			fmt.Fprintf(w, "  %s\n", res.Items[0].Checks[0].Message)
			continue
		}
		if res.Status == grade.StatusBuildFailed {
			fmt.Fprintf(w, "  %s\n", res.Items[0].Checks[0].Message)
			if strings.TrimSpace(res.Build) != "" {
				fmt.Fprintf(w, "%s\n", indent(res.Build, "    | "))
			}
			continue
		}
		for _, it := range res.Items {
			for _, c := range it.Checks {
				if !c.Passed {
					fmt.Fprintf(w, "  %s (%s/%s): %s\n", it.Name, num(it.Score), num(it.MaxScore), c.Message)
				}
			}
		}
	}
}

// File is the JSON document of a grading run.
type File struct {
	Rubric      string          `json:"rubric"`
	MaxScore    float64         `json:"max_score"`
	Submissions []*grade.Result `json:"submissions"`
}

// JSON writes the results as one JSON document.
func JSON(w io.Writer, rubric string, results []*grade.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	f := File{Rubric: rubric, Submissions: results}
	if len(results) > 0 {
		f.MaxScore = results[0].MaxScore
	}
	return enc.Encode(f)
}

// Num formats a score without trailing zeros: 5, 7.5.
func Num(v float64) string { return num(v) }

func num(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	const most = 30
	if len(lines) > most {
		lines = append(lines[:most], fmt.Sprintf("[%d more lines]", len(lines)-most))
	}
	return prefix + strings.Join(lines, "\n"+prefix)
}
