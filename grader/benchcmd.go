package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"kmodgrade/grader/bench"
	"kmodgrade/grader/grade"
)

// benchCmd grades a class of sample mutants on the fast and the
// straightforward path and prints both side by side.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var setup setupFlags
	setup.register(fs)
	n := fs.Int("n", 40, "how many submissions the class has")
	jobs := fs.Int("jobs", defaultJobs(), "grade `n` submissions at once")
	samples := fs.String("samples", "submissions", "the `folder` of sample submissions to copy")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: grader bench [flags]\n\nGrades a class of N copies of the sample "+
			"submissions with guests restored from a\nsaved one and with a cold boot each, checks that "+
			"the grades agree, and prints the time of both.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if rest, err := parseInterleaved(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("%w: bench takes no arguments, only flags", errUsage)
	}
	if *n < 1 || *jobs < 1 {
		return fmt.Errorf("%w: -n and --jobs must be at least 1", errUsage)
	}
	log := &logger{w: stderr, verbose: setup.verbose}

	rb, k, err := setup.load(log)
	if err != nil {
		return err
	}
	reference := setup.reference
	if reference == "" {
		reference = rb.Reference
	}
	dir, err := os.MkdirTemp("", "kmodgrade-class-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	subs, err := bench.Class(*samples, filepath.Join(dir, "class"), *n)
	if err != nil {
		return err
	}

	var paths []*bench.Path
	accel := ""
	for _, cold := range []bool{true, false} {
		name := "fast"
		if cold {
			name = "straightforward"
		}
		log.printf("grading %d submissions on the %s path", *n, name)
		p, err := bench.Measure(ctx, name, func() (*grade.Grader, error) {
			cfg := setup.config(rb, k, log)
			cfg.ColdBoots = cold
			g, err := grade.New(ctx, cfg)
			if err == nil {
				accel = g.Accel()
			}
			return g, err
		}, reference, subs, *jobs)
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}
	fmt.Fprintf(stdout, "machine: %s\n\n", bench.Machine(accel))
	bench.Print(stdout, paths[1], paths[0], *n, *jobs)
	if diff := bench.Differences(paths[1].Results, paths[0].Results); len(diff) > 0 {
		for _, d := range diff {
			fmt.Fprintf(stdout, "differs: %s\n", d)
		}
		return errors.New("the two paths gave different grades")
	}
	fmt.Fprintf(stdout, "results identical on both paths for all %d submissions\n", *n)
	return nil
}
