package report

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"regexp"
	"strconv"
	"strings"

	"kmodgrade/grader/grade"
)

// CSV writes a plain CSV for a gradebook import or a spreadsheet: name,
// participant id, submission id, a column per item, the total, the status.
func CSV(w io.Writer, results []*grade.Result) error {
	cw := csv.NewWriter(w)
	header := []string{"name", "participant_id", "submission"}
	if len(results) > 0 {
		for _, it := range results[0].Items {
			header = append(header, short(it))
		}
	}
	cw.Write(append(header, "total", "status"))
	for _, r := range results {
		row := []string{r.Name, r.ParticipantID, r.ID}
		for _, it := range r.Items {
			row = append(row, num(it.Score))
		}
		cw.Write(append(row, num(r.Score), r.Status))
	}
	cw.Flush()
	return cw.Error()
}

// Feedback is the text a student gets: each item with its points and the
// reason for every point lost, and the compiler's output if the build failed.
func Feedback(r *grade.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Grade: %s/%s\n", num(r.Score), num(r.MaxScore))
	switch r.Status {
	case grade.StatusError:
		fmt.Fprintf(&b, "\nThe grader could not grade this submission: %s\n", r.Error)
	case grade.StatusBadUpload, grade.StatusBuildFailed:
		if len(r.Items) > 0 && len(r.Items[0].Checks) > 0 {
			fmt.Fprintf(&b, "\n%s\n", r.Items[0].Checks[0].Message)
		}
	}
	b.WriteString("\n")
	for _, it := range r.Items {
		fmt.Fprintf(&b, "[%s/%s] %s\n", num(it.Score), num(it.MaxScore), it.Name)
		if r.Status != grade.StatusGraded {
			continue
		}
		for _, c := range it.Checks {
			if !c.Passed {
				fmt.Fprintf(&b, "    - %s\n", c.Message)
				if c.Try != "" {
					fmt.Fprintf(&b, "      to see it yourself: %s\n", c.Try)
				}
			}
		}
	}
	if r.Status == grade.StatusBuildFailed && r.Build != "" {
		fmt.Fprintf(&b, "\nCompiler output:\n%s\n", r.Build)
	}
	return b.String()
}

// FeedbackZip writes a zip of one feedback.txt per student, in folders
// named as Moodle's "Upload multiple feedback files in a zip" expects:
// "<Full Name>_<participant id>_assignsubmission_file/feedback.txt".
// Results without a participant id (not from Moodle) are left out; their
// ids are returned.
func FeedbackZip(w io.Writer, results []*grade.Result) ([]string, error) {
	zw := zip.NewWriter(w)
	var skipped []string
	for _, r := range results {
		if r.ParticipantID == "" {
			skipped = append(skipped, r.ID)
			continue
		}
		name := r.Name
		if strings.HasPrefix(name, "Participant ") {
			name = "Participant"
		}
		f, err := zw.Create(fmt.Sprintf("%s_%s_assignsubmission_file/feedback.txt", name, r.ParticipantID))
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(f, Feedback(r)); err != nil {
			return nil, err
		}
	}
	return skipped, zw.Close()
}

// WorksheetReport says what filling a grading worksheet did.
type WorksheetReport struct {
	Filled int
	// NotInWorksheet are results with a participant id that no row has.
	NotInWorksheet []string
	// NotGraded are results the grader failed on (status error): their
	// rows are left as they were, to be graded again or by hand.
	NotGraded []string
	// Scaled is set when the worksheet's maximum grade differs from the
	// rubric's and grades were scaled to it.
	Scaled    bool
	NoComment bool // the worksheet has no "Feedback comments" column
}

var participant = regexp.MustCompile(`^Participant (\d+)$`)

// FillWorksheet copies Moodle's grading worksheet from in to out, with the
// Grade and Feedback comments of every graded participant set. Every other
// cell, row and column is kept as it was, so that the result uploads to
// "Upload grading worksheet" as it is.
func FillWorksheet(in io.Reader, out io.Writer, results []*grade.Result) (*WorksheetReport, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	bom := bytes.HasPrefix(data, []byte("\xef\xbb\xbf"))
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("the worksheet is not a CSV file: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("the worksheet is empty")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	idCol, okID := col["Identifier"]
	gradeCol, okGrade := col["Grade"]
	if !okID || !okGrade {
		return nil, fmt.Errorf("the worksheet has no %q and %q columns: is it Moodle's grading worksheet?",
			"Identifier", "Grade")
	}
	fbCol, okFb := col["Feedback comments"]
	maxCol, okMax := col["Maximum Grade"]

	rep := &WorksheetReport{NoComment: !okFb}
	byID := map[string]*grade.Result{}
	for _, r := range results {
		switch {
		case r.ParticipantID == "":
		case r.Status == grade.StatusError:
			rep.NotGraded = append(rep.NotGraded, r.ID)
		default:
			byID[r.ParticipantID] = r
		}
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		if idCol >= len(row) || gradeCol >= len(row) {
			continue
		}
		m := participant.FindStringSubmatch(strings.TrimSpace(row[idCol]))
		if m == nil || byID[m[1]] == nil {
			continue
		}
		r := byID[m[1]]
		seen[m[1]] = true
		score, comma := r.Score, false
		if okMax && maxCol < len(row) {
			if top, c, ok := parseNumber(row[maxCol]); ok {
				comma = c
				if top > 0 && top != r.MaxScore && r.MaxScore > 0 {
					score, rep.Scaled = r.Score/r.MaxScore*top, true
				}
				score = min(score, top)
			}
		}
		row[gradeCol] = formatNumber(score, comma)
		if okFb && fbCol < len(row) {
			row[fbCol] = feedbackHTML(r)
		}
		rep.Filled++
	}
	for _, r := range results {
		if byID[r.ParticipantID] != nil && !seen[r.ParticipantID] {
			rep.NotInWorksheet = append(rep.NotInWorksheet, r.ID)
		}
	}

	if bom {
		io.WriteString(out, "\xef\xbb\xbf")
	}
	cw := csv.NewWriter(out)
	cw.UseCRLF = bytes.Contains(data, []byte("\r\n"))
	if err := cw.WriteAll(rows); err != nil {
		return nil, err
	}
	return rep, nil
}

// parseNumber reads a grade as Moodle writes it, "120.00" or "120,00", and
// says whether it used a decimal comma.
func parseNumber(s string) (float64, bool, bool) {
	s = strings.TrimSpace(s)
	comma := strings.Contains(s, ",") && !strings.Contains(s, ".")
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", "."), 64)
	return v, comma, err == nil
}

func formatNumber(v float64, comma bool) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if comma {
		s = strings.ReplaceAll(s, ".", ",")
	}
	return s
}

// feedbackHTML is the feedback as Moodle's comment field shows it: HTML,
// with the text escaped and its lines kept.
func feedbackHTML(r *grade.Result) string {
	text := strings.TrimRight(Feedback(r), "\n")
	return "<pre>" + html.EscapeString(text) + "</pre>"
}
