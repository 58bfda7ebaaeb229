package report

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"html"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"

	"kmodgrade/grader/grade"
)

// moodleHeader is the header of Moodle's grading worksheet.
var moodleHeader = []string{"Identifier", "Full name", "Email address", "Status", "Grade",
	"Maximum Grade", "Grade can be changed", "Last modified (submission)", "Online text",
	"Last modified (grade)", "Feedback comments"}

const (
	gradeCol    = 4
	onlineCol   = 8
	commentsCol = 10
)

// worksheet writes rows as Moodle does: every field quoted, CRLF or LF
// line ends, with a byte order mark if asked.
func worksheet(rows [][]string, crlf, bom bool) string {
	var b strings.Builder
	if bom {
		b.WriteString("\xef\xbb\xbf")
	}
	eol := "\n"
	if crlf {
		eol = "\r\n"
	}
	for _, row := range rows {
		for i, f := range row {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + strings.ReplaceAll(f, `"`, `""`) + `"`)
		}
		b.WriteString(eol)
	}
	return b.String()
}

// participantRow is a row of the worksheet as Moodle writes it, before grading.
func participantRow(id, name, max string) []string {
	email := strings.ToLower(strings.Trim(strings.Fields(name)[0], ",")) + "@example.org"
	return []string{"Participant " + id, name, email, "Submitted for grading, Graded", "", max,
		"Yes", "Monday, 1 December 2026, 10:00 AM",
		"<p>My module, \"project\":</p>\r\n<p>it reads &amp; writes.</p>", "-", ""}
}

func parseCSV(t *testing.T, s string) [][]string {
	t.Helper()
	cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(s, "\xef\xbb\xbf")))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("the output is not CSV: %v\n%s", err, s)
	}
	return rows
}

// graded is a result of 100/120 with a failed check whose message needs
// escaping in HTML.
func graded(id, participant string, score float64) *grade.Result {
	return &grade.Result{ID: id, Name: "Student " + participant, ParticipantID: participant,
		Score: score, MaxScore: 120, Status: grade.StatusGraded, Items: []grade.ItemResult{
			{Name: "Loads", Score: 20, MaxScore: 20,
				Checks: []grade.CheckResult{{Name: "load", Passed: true}}},
			{Name: "Reads", Score: score - 20, MaxScore: 100, Checks: []grade.CheckResult{
				{Name: "read", Message: "read() returned < 3 entries & no error"}}}}}
}

func TestFillWorksheet(t *testing.T) {
	tests := []struct {
		name    string
		max     string  // every row's Maximum Grade
		score   float64 // of participants 100 and 102, out of 120
		grade   string
		scaled  bool
		crlf    bool
		bom     bool
		comment bool // whether the worksheet has Feedback comments
	}{
		{name: "same maximum", max: "120.00", score: 100, grade: "100.00", crlf: true, comment: true},
		{name: "scaled to 100", max: "100.00", score: 100, grade: "83.33", scaled: true, crlf: true,
			comment: true},
		{name: "decimal comma", max: "120,00", score: 100, grade: "100,00", crlf: true, comment: true},
		{name: "scaled with a decimal comma", max: "10,00", score: 90, grade: "7,50", scaled: true,
			comment: true},
		{name: "bonus capped at the maximum", max: "120.00", score: 130, grade: "120.00",
			comment: true},
		{name: "scaled bonus capped", max: "100.00", score: 130, grade: "100.00", scaled: true,
			comment: true},
		{name: "no maximum", max: "", score: 100, grade: "100.00", crlf: true, comment: true},
		{name: "LF line ends", max: "120.00", score: 100, grade: "100.00", comment: true},
		{name: "byte order mark", max: "120.00", score: 100, grade: "100.00", crlf: true, bom: true,
			comment: true},
		{name: "no Feedback comments column", max: "120.00", score: 100, grade: "100.00", crlf: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := [][]string{moodleHeader,
				participantRow("100", "Lovelace, Ada", tt.max),
				participantRow("101", "Turing, Alan", tt.max),
				participantRow("102", "Hopper, Grace", tt.max)}
			for i := range rows {
				if !tt.comment {
					rows[i] = rows[i][:commentsCol]
				}
				if !tt.crlf {
					rows[i][onlineCol] = strings.ReplaceAll(rows[i][onlineCol], "\r\n", "\n")
				}
			}
			in := worksheet(rows, tt.crlf, tt.bom)
			results := []*grade.Result{graded("ada", "100", tt.score), graded("grace", "102", tt.score),
				graded("nobody", "999", tt.score), {ID: "folder", Score: 1, MaxScore: 120}}
			var out bytes.Buffer

			rep, err := FillWorksheet(strings.NewReader(in), &out, results)

			if err != nil {
				t.Fatal(err)
			}
			want := &WorksheetReport{Filled: 2, NotInWorksheet: []string{"nobody"}, Scaled: tt.scaled,
				NoComment: !tt.comment}
			if !reflect.DeepEqual(rep, want) {
				t.Errorf("report %+v, want %+v", rep, want)
			}
			checkLayout(t, out.String(), tt.crlf, tt.bom)
			got, was := parseCSV(t, out.String()), parseCSV(t, in)
			if len(got) != len(was) {
				t.Fatalf("got %d rows, want %d", len(got), len(was))
			}
			if !reflect.DeepEqual(got[0], was[0]) || !reflect.DeepEqual(got[2], was[2]) {
				t.Errorf("header or untouched row changed:\n%q\n%q", got[0], got[2])
			}
			for i, r := range map[int]*grade.Result{1: results[0], 3: results[1]} {
				checkFilled(t, got[i], was[i], r, tt.grade, tt.comment)
			}
		})
	}
}

// checkLayout checks that the output kept the input's line ends and byte
// order mark.
func checkLayout(t *testing.T, out string, crlf, bom bool) {
	t.Helper()
	if got := strings.HasPrefix(out, "\xef\xbb\xbf"); got != bom {
		t.Errorf("byte order mark: %v, want %v", got, bom)
	}
	lf, crlfs := strings.Count(out, "\n"), strings.Count(out, "\r\n")
	if crlf && lf != crlfs {
		t.Errorf("%d of %d line ends are not CRLF", lf-crlfs, lf)
	}
	if !crlf && strings.Contains(out, "\r") {
		t.Errorf("a CR in an LF worksheet:\n%q", out)
	}
}

// checkFilled checks that a filled row differs from the row read only in
// its Grade and Feedback comments, and that those are right.
func checkFilled(t *testing.T, got, was []string, r *grade.Result, wantGrade string, comment bool) {
	t.Helper()
	if len(got) != len(was) {
		t.Fatalf("%s: %d cells, want %d", r.ID, len(got), len(was))
	}
	for i := range was {
		if i != gradeCol && i != commentsCol && got[i] != was[i] {
			t.Errorf("%s: %s = %q, was %q", r.ID, moodleHeader[i], got[i], was[i])
		}
	}
	if got[gradeCol] != wantGrade {
		t.Errorf("%s: Grade = %q, want %q", r.ID, got[gradeCol], wantGrade)
	}
	if !comment {
		return
	}
	fb := got[commentsCol]
	inner, ok := strings.CutPrefix(fb, "<pre>")
	inner, ok2 := strings.CutSuffix(inner, "</pre>")
	if !ok || !ok2 {
		t.Fatalf("%s: Feedback comments %q is not one <pre> element", r.ID, fb)
	}
	if strings.ContainsAny(inner, "<>") || !strings.Contains(inner, "&lt; 3 entries &amp; no error") {
		t.Errorf("%s: Feedback comments not escaped: %q", r.ID, fb)
	}
	want := strings.TrimRight(Feedback(r), "\n")
	if text := strings.ReplaceAll(html.UnescapeString(inner), "\r\n", "\n"); text != want {
		t.Errorf("%s: Feedback comments say\n%s\nwant\n%s", r.ID, text, want)
	}
}

func TestFillWorksheetErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no Identifier", "Full name,Grade\r\nAda,\r\n", "Identifier"},
		{"no Grade", "Identifier,Full name\r\nParticipant 1,Ada\r\n", "Grade"},
		{"empty", "", "empty"},
		{"not CSV", "Identifier,Grade\n\"Participant 1,\"\"\n", "not a CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer

			res := []*grade.Result{graded("a", "1", 100)}
			_, err := FillWorksheet(strings.NewReader(tt.in), &out, res)

			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestFeedbackZip(t *testing.T) {
	built := &grade.Result{ID: "Participant_7_7", Name: "Participant 7", ParticipantID: "7",
		MaxScore: 120, Status: grade.StatusBuildFailed, Build: "project.c:3:1: error: expected ';'",
		Items: []grade.ItemResult{{Name: "Loads", MaxScore: 20, Checks: []grade.CheckResult{
			{Name: "load", Message: "the module did not build: make exited 2"}}},
			{Name: "Reads", MaxScore: 100}}}
	results := []*grade.Result{graded("Ada_Lovelace_100", "100", 100), built,
		{ID: "folder", Score: 5, MaxScore: 120, Status: grade.StatusGraded}}
	results[0].Name = "Ada Lovelace"
	var b bytes.Buffer

	skipped, err := FeedbackZip(&b, results)

	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(skipped, []string{"folder"}) {
		t.Errorf("skipped %q, want [folder]", skipped)
	}
	files := readZip(t, b.Bytes())
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	wantNames := []string{"Ada Lovelace_100_assignsubmission_file/feedback.txt",
		"Participant_7_assignsubmission_file/feedback.txt"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("entries %q, want %q", names, wantNames)
	}
	tests := []struct {
		name  string
		lines []string
	}{
		{wantNames[0], []string{"Grade: 100/120", "[20/20] Loads", "[80/100] Reads",
			"    - read() returned < 3 entries & no error"}},
		{wantNames[1], []string{"Grade: 0/120", "the module did not build: make exited 2",
			"[0/20] Loads", "[0/100] Reads", "Compiler output:", "project.c:3:1: error: expected ';'"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := strings.Split(files[tt.name], "\n")
			for _, want := range tt.lines {
				if !contains(lines, want) {
					t.Errorf("no line %q in\n%s", want, files[tt.name])
				}
			}
		})
	}
}

func readZip(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = string(b)
	}
	return files
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestFeedback(t *testing.T) {
	tests := []struct {
		name string
		r    *grade.Result
		want []string
		not  []string
	}{
		{
			name: "graded",
			r:    graded("a", "1", 100),
			want: []string{"Grade: 100/120", "[80/100] Reads",
				"    - read() returned < 3 entries & no error"},
			not: []string{"Compiler output:"},
		},
		{
			name: "grader error",
			r: &grade.Result{ID: "a", MaxScore: 120, Status: grade.StatusError,
				Error: "the guest did not boot",
				Items: []grade.ItemResult{{Name: "Loads", MaxScore: 20, Checks: []grade.CheckResult{
					{Message: "hidden"}}}}},
			want: []string{"Grade: 0/120",
				"The grader could not grade this submission: the guest did not boot", "[0/20] Loads"},
			not: []string{"    - hidden"},
		},
		{
			name: "bad upload",
			r: &grade.Result{ID: "a", MaxScore: 120, Status: grade.StatusBadUpload,
				Items: []grade.ItemResult{{Name: "Loads", MaxScore: 20, Checks: []grade.CheckResult{
					{Message: "the upload could not be graded: the upload is empty"}}}}},
			want: []string{"the upload could not be graded: the upload is empty", "[0/20] Loads"},
			not:  []string{"    - the upload could not be graded: the upload is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := strings.Split(Feedback(tt.r), "\n")
			for _, w := range tt.want {
				if !contains(lines, w) {
					t.Errorf("no line %q in\n%s", w, Feedback(tt.r))
				}
			}
			for _, n := range tt.not {
				if contains(lines, n) {
					t.Errorf("a line %q in\n%s", n, Feedback(tt.r))
				}
			}
		})
	}
}

func TestCSV(t *testing.T) {
	_, results := sample()
	results[0].Name, results[0].ParticipantID = "Lovelace, Ada", "100"
	var b bytes.Buffer

	if err := CSV(&b, results); err != nil {
		t.Fatal(err)
	}

	got := parseCSV(t, b.String())
	want := [][]string{
		{"name", "participant_id", "submission", "load", "read", "total", "status"},
		{"Lovelace, Ada", "100", "ada", "5", "40", "45", "graded"},
		{"", "", "bob", "5", "0", "5", "graded"},
		{"", "", "cy", "0", "0", "0", "build-failed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CSV:\n%q\nwant\n%q", got, want)
	}
}

func TestCSVEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := CSV(&b, nil); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "name,participant_id,submission,total,status\n" {
		t.Errorf("CSV of no results = %q", got)
	}
}

// TestFillWorksheetSkipsErrors checks that a submission the grader failed
// on (status error) leaves its row as it was, to be graded again.
func TestFillWorksheetSkipsErrors(t *testing.T) {
	row := participantRow("7", "Ada Lovelace", "120.00")
	in := worksheet([][]string{moodleHeader, row}, false, false)
	failed := graded("ada", "7", 0)
	failed.Status, failed.Error = grade.StatusError, "qemu did not start"
	var out strings.Builder
	rep, err := FillWorksheet(strings.NewReader(in), &out, []*grade.Result{failed})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Filled != 0 || len(rep.NotGraded) != 1 || len(rep.NotInWorksheet) != 0 {
		t.Errorf("report %+v, want nothing filled and one not graded", rep)
	}
	rows, was := parseCSV(t, out.String()), parseCSV(t, in)
	if strings.Join(rows[1], "|") != strings.Join(was[1], "|") {
		t.Errorf("row changed:\n%q\nwas\n%q", rows[1], was[1])
	}
}

// TestFeedbackTry checks that a failed check's way to see it by hand is in
// the feedback, under its message.
func TestFeedbackTry(t *testing.T) {
	r := graded("ada", "7", 100)
	r.Items[1].Checks[0].Try = "dd if=/proc/csse332/status bs=1000 count=12 of=/dev/null"
	fb := Feedback(r)
	want := "    - read() returned < 3 entries & no error\n" +
		"      to see it yourself: dd if=/proc/csse332/status bs=1000 count=12 of=/dev/null\n"
	if !strings.Contains(fb, want) {
		t.Errorf("feedback lacks\n%s\nit is:\n%s", want, fb)
	}
}
