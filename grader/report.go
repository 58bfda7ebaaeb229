package main

import (
	"context"
	"flag"
	"fmt"
	"io"

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
		fmt.Fprintf(stderr, "usage: grader report [flags]\n\nPrints the table and summary of saved "+
			"results, and writes the exports asked for, without grading.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: report takes no arguments, only flags", errUsage)
	}
	if err := exp.check(); err != nil {
		return err
	}
	store, err := results.Open(*dir)
	if err != nil {
		return err
	}
	res, err := store.All()
	if err != nil {
		return err
	}
	if err := report.Table(stdout, res); err != nil {
		return err
	}
	report.Details(stdout, res)
	report.Summary(stdout, res)
	return exp.write(rubricOf(res), res, &logger{w: stderr})
}

// rubricOf is the name of the rubric the results were graded with.
func rubricOf(res []*grade.Result) string {
	if len(res) == 0 {
		return ""
	}
	return res[0].Rubric
}
