package report_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/internal/fuzzcheck"
	"kmodgrade/grader/report"
)

// sheetHeader is the header of Moodle's grading worksheet.
const sheetHeader = `"Identifier","Full name","Email address","Status","Grade","Maximum Grade",` +
	`"Grade can be changed","Last modified (submission)","Last modified (grade)","Feedback comments"`

// sheetRow is a row of the worksheet before grading, every field quoted as
// Moodle writes them.
func sheetRow(id, name, max string) string {
	return fmt.Sprintf(`"Participant %s","%s","%s@example.org","Submitted for grading","","%s",`+
		`"Yes","Monday, 1 December 2026, 10:00 AM","-",""`, id, name, strings.ToLower(name), max)
}

// worksheets are the seeds of FuzzFillWorksheet.
func worksheets() []string {
	rows := []string{sheetHeader, sheetRow("123456", "Ada", "120.00"), sheetRow("123457", "Alan", "120.00"),
		sheetRow("123458", "Grace", "100.00"), sheetRow("123459", "Edsger", "")}
	lf := strings.Join(rows, "\n") + "\n"
	semicolon := strings.ReplaceAll(strings.ReplaceAll(lf, `","`, `";"`), ".00", ",00")
	return []string{
		lf,
		"\xef\xbb\xbf" + strings.ReplaceAll(lf, "\n", "\r\n"),
		strings.ReplaceAll(lf, ".00", ",00"), // a decimal comma
		semicolon,                            // not supported: no Identifier column
		"Identifier,Grade\n\"Participant 123456\n",
		"Identifier,Grade\nParticipant 123456,\"\"x\n",
		"\x00\xff\xfe garbage",
		"",
	}
}

// sheetResults are the results filled in: graded, graded with a message
// that needs escaping, failed to build, not graded, not from Moodle, and
// not in the worksheet.
func sheetResults() []*grade.Result {
	item := func(score float64, msg string) []grade.ItemResult {
		return []grade.ItemResult{{Name: "Reads", Score: score, MaxScore: 120,
			Checks: []grade.CheckResult{{Name: "read", Passed: msg == "", Message: msg}}}}
	}
	return []*grade.Result{
		{ID: "Ada_123456", Name: "Ada", ParticipantID: "123456", Score: 120, MaxScore: 120,
			Status: grade.StatusGraded, Items: item(120, "")},
		{ID: "Alan_123457", Name: "Alan", ParticipantID: "123457", Score: 60, MaxScore: 120,
			Status: grade.StatusGraded, Items: item(60, `read() gave < 3 entries & "no" error`)},
		{ID: "Grace_123458", Name: "Grace", ParticipantID: "123458", MaxScore: 120,
			Status: grade.StatusBuildFailed, Build: "m.c:1: error: <stdio.h>\r\n",
			Items: item(0, "did not build")},
		{ID: "Edsger_123459", Name: "Edsger", ParticipantID: "123459", Status: grade.StatusError,
			Error: "the guest crashed"},
		{ID: "folder", Score: 1, MaxScore: 120, Status: grade.StatusGraded},
		{ID: "Ken_999", Name: "Ken", ParticipantID: "999", Score: 1, MaxScore: 120,
			Status: grade.StatusGraded},
	}
}

// FuzzFillWorksheet checks that FillWorksheet never panics or hangs, and
// that a worksheet it fills is still CSV with the same rows, each with as
// many fields as before and the same cells but for the grades and comments
// it fills (see sameShape), up to the quirks of encoding/csv (see records).
func FuzzFillWorksheet(f *testing.F) {
	for _, s := range worksheets() {
		f.Add([]byte(s))
	}
	results := sheetResults()
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		var err error
		fuzzcheck.NoHang(t, hangLimit, func() { _, err = report.FillWorksheet(bytes.NewReader(in), &out, results) })
		if err != nil {
			return
		}
		was, err := readSheet(in)
		if err != nil {
			t.Fatalf("FillWorksheet took a worksheet that is not CSV: %v", err)
		}
		got, err := readSheet(out.Bytes())
		if err != nil {
			t.Fatalf("the filled worksheet is not CSV: %v\n%q", err, out.Bytes())
		}
		if err := sameShape(records(was), records(got)); err != nil {
			t.Fatalf("%v\nin:  %q\nout: %q", err, in, out.Bytes())
		}
	})
}

// readSheet reads a worksheet as FillWorksheet does: a byte order mark
// first is left out, and rows may differ in length.
func readSheet(data []byte) ([][]string, error) {
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	cr.FieldsPerRecord = -1
	return cr.ReadAll()
}

// records is rows as encoding/csv lets them through a write and a read:
// with CRLF line ends its Writer leaves out a lone \r in a field, and it
// writes a row of one empty field as a blank line, which its Reader skips
// (golang/go#39119). FillWorksheet keeps both quirks; no worksheet from
// Moodle has either.
func records(rows [][]string) [][]string {
	var out [][]string
	for _, r := range rows {
		row := make([]string, len(r))
		for i, f := range r {
			row[i] = strings.ReplaceAll(f, "\r", "")
		}
		if len(row) != 1 || row[0] != "" {
			out = append(out, row)
		}
	}
	return out
}

// sameShape reports how got differs from was in its number of rows, the
// number of fields of a row, or a cell that FillWorksheet must keep: any
// but the Grade and Feedback comments of a participant's row.
func sameShape(was, got [][]string) error {
	if len(got) != len(was) {
		return fmt.Errorf("%d rows, want %d", len(got), len(was))
	}
	filled := map[int]bool{lastIndex(was[0], "Grade"): true, lastIndex(was[0], "Feedback comments"): true}
	for i := range was {
		if len(got[i]) != len(was[i]) {
			return fmt.Errorf("row %d has %d fields, want %d", i+1, len(got[i]), len(was[i]))
		}
		for j := range was[i] {
			if i > 0 && filled[j] {
				continue
			}
			if got[i][j] != was[i][j] {
				return fmt.Errorf("row %d field %d is %q, want %q", i+1, j+1, got[i][j], was[i][j])
			}
		}
	}
	return nil
}

// lastIndex is the index of the last s in list, as FillWorksheet finds its
// columns, or -1.
func lastIndex(list []string, s string) int {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i] == s {
			return i
		}
	}
	return -1
}

// hangLimit bounds one call of FillWorksheet: longer is a hang. The
// fuzzing engine has no such limit: it would wait for a hung call until
// -fuzztime ends, and then pass.
const hangLimit = 10 * time.Second

// TestWorksheetSeeds checks what the seeds of FuzzFillWorksheet exercise:
// the first three fill three participants' rows, scaling Grace's to 100,
// and the rest are turned down.
func TestWorksheetSeeds(t *testing.T) {
	for i, s := range worksheets() {
		var out bytes.Buffer

		rep, err := report.FillWorksheet(strings.NewReader(s), &out, sheetResults())

		switch {
		case i < 3 && err != nil:
			t.Errorf("seed %d: %v", i, err)
		case i < 3 && (rep.Filled != 3 || !rep.Scaled || len(rep.NotGraded) != 1):
			t.Errorf("seed %d: report %+v, want 3 filled, scaled, 1 not graded", i, rep)
		case i >= 3 && err == nil:
			t.Errorf("seed %d: FillWorksheet took %q", i, s)
		}
	}
}
