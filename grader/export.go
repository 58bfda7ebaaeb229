package main

import (
	"fmt"
	"os"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/report"
)

// write produces every export asked for.
func (e *exportFlags) write(rubric string, res []*grade.Result, log *logger) error {
	if e.json != "" {
		if err := writeFile(e.json, func(f *os.File) error { return report.JSON(f, rubric, res) }); err != nil {
			return err
		}
	}
	if e.csv != "" {
		if err := writeFile(e.csv, func(f *os.File) error { return report.CSV(f, res) }); err != nil {
			return err
		}
	}
	if e.feedbackZip != "" {
		var skipped []string
		err := writeFile(e.feedbackZip, func(f *os.File) (err error) {
			skipped, err = report.FeedbackZip(f, res)
			return err
		})
		if err != nil {
			return err
		}
		if len(skipped) > 0 {
			log.warnf("%d submissions are not from a Moodle download and have no feedback file: %v",
				len(skipped), skipped)
		}
	}
	if e.worksheet != "" {
		return e.fillWorksheet(res, log)
	}
	return nil
}

func (e *exportFlags) fillWorksheet(res []*grade.Result, log *logger) error {
	in, err := os.Open(e.worksheet)
	if err != nil {
		return fmt.Errorf("moodle worksheet: %w", err)
	}
	defer in.Close()
	var rep *report.WorksheetReport
	err = writeFile(e.worksheetOut, func(f *os.File) (err error) {
		rep, err = report.FillWorksheet(in, f, res)
		if err != nil {
			err = fmt.Errorf("moodle worksheet %s: %w", e.worksheet, err)
		}
		return err
	})
	if err != nil {
		return err
	}
	log.printf("worksheet %s: %d grades filled", e.worksheetOut, rep.Filled)
	if rep.Scaled {
		log.warnf("the worksheet's maximum grade differs from the rubric's: grades were scaled to it")
	}
	if rep.NoComment {
		log.warnf("the worksheet has no Feedback comments column (turn on feedback comments in the " +
			"assignment's settings); only grades were filled")
	}
	if len(rep.NotGraded) > 0 {
		log.warnf("%d submissions could not be graded (status error) and were left out of the worksheet: %v",
			len(rep.NotGraded), rep.NotGraded)
	}
	if len(rep.NotInWorksheet) > 0 {
		log.warnf("%d graded participants have no row in the worksheet: %v", len(rep.NotInWorksheet),
			rep.NotInWorksheet)
	}
	return nil
}

// writeFile writes a file through fill, leaving no half-written file behind.
func writeFile(path string, fill func(*os.File) error) error {
	tmp := path + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
