package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/report"
	"kmodgrade/grader/results"
)

// reportCmd renders saved results again, without grading.
func reportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("results", "results", "the `folder` of saved results")
	var exp exportFlags
	exp.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: grader report [flags] [SUBMISSION...]\n\nPrints the table and summary of saved "+
			"results, and writes the exports asked for, without grading.\nGiven the class's submissions "+
			"(as given to grade), it reports just those, in that order,\nand fails if any has no result "+
			"yet: the check that every shard of a class is done.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	class, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := exp.check(); err != nil {
		return err
	}
	if len(class) == 0 {
		store, err := results.Open(*dir)
		if err != nil {
			return err
		}
		res, err := store.All()
		if err != nil {
			return err
		}
		return printResults(res, &exp, stdout, stderr)
	}
	return mergeClass(*dir, class, &exp, stdout, stderr)
}

// printResults prints the table, details and summary, and writes the
// exports asked for.
func printResults(res []*grade.Result, exp *exportFlags, stdout, stderr io.Writer) error {
	if err := report.Table(stdout, res); err != nil {
		return err
	}
	report.Details(stdout, res)
	report.Summary(stdout, res)
	return exp.write(rubricOf(res), res, &logger{w: stderr})
}

// saved reads the results of the class given as grade's arguments, and
// names the submissions that have none.
func saved(store *results.Store, class []string) ([]*grade.Result, []string, error) {
	work, err := os.MkdirTemp("", "kmodgrade-report-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(work)
	subs, err := gather(class, work)
	if err != nil {
		return nil, nil, err
	}
	var res []*grade.Result
	var missing []string
	for _, s := range subs {
		r, err := store.Load(s.ID)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, s.ID)
		case err != nil:
			return nil, nil, err
		default:
			res = append(res, r)
		}
	}
	return res, missing, nil
}

// rubricOf is the name of the rubric the results were graded with.
func rubricOf(res []*grade.Result) string {
	if len(res) == 0 {
		return ""
	}
	return res[0].Rubric
}
