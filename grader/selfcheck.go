package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/report"
	"kmodgrade/grader/submission"
)

// exitStatus ends a command with a status of its own; err, if any, is
// printed first.
type exitStatus struct {
	code int
	err  error
}

func (e *exitStatus) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// expectationsPath is where a rubric's recorded expectations go by default:
// rubrics/milestone1.yaml -> rubrics/milestone1.expected.json.
func expectationsPath(rubric string) string {
	return strings.TrimSuffix(strings.TrimSuffix(rubric, ".yaml"), ".yml") + ".expected.json"
}

// rubricCmd records what the reference shows under a rubric, for grading
// without the reference's source.
func rubricCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rubric", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var setup setupFlags
	setup.register(fs)
	record := fs.Bool("record", false, "run the reference and record what it shows")
	outFlag := fs.String("o", "", "where to write the record (default: <rubric>.expected.json)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: grader rubric --record [-o FILE] [flags]\n\nRuns the reference once and "+
			"records what it shows, so that students can check their\nmodule with grader check, without "+
			"the reference's source.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if rest, err := parseInterleaved(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return fmt.Errorf("%w: rubric takes no arguments, only flags", errUsage)
	}
	if !*record {
		return fmt.Errorf("%w: rubric needs --record", errUsage)
	}
	out := *outFlag
	if out == "" {
		out = expectationsPath(setup.rubric)
	}
	log := &logger{w: stderr, verbose: setup.verbose}
	rb, g, err := setup.open(ctx, log)
	if err != nil {
		return err
	}
	defer g.Close()
	ref := setup.reference
	if ref == "" {
		ref = rb.Reference
	}
	if _, err := g.Reference(ctx, ref); err != nil {
		return err
	}
	e, err := g.Expectations()
	if err != nil {
		return err
	}
	if err := writeFile(out, func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", " ")
		return enc.Encode(e)
	}); err != nil {
		return err
	}
	log.printf("recorded the reference's observations under %s in %s", rb.Path, out)
	return nil
}

// checkCmd grades one module folder against recorded expectations: the
// student's self-check. Exit status 0 at full marks, 1 otherwise, 2 when it
// could not grade.
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setup := setupFlags{ownKernel: true}
	setup.register(fs)
	expFile := fs.String("expectations", "", "the recorded expectations `file` (default: <rubric>.expected.json)")
	gradescope := fs.String("gradescope", "", "also write Gradescope's results.json to `file`")
	color := fs.String("color", "auto", "colour the output: `auto` (on a terminal, unless NO_COLOR is set), always, never")
	fs.BoolVar(&setup.host, "host", false, "check on the kernel this machine runs, with no guest "+
		"(needs root; a crash of the module takes this machine down)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: grader check [flags] [DIR]\n\nGrades the module in DIR (default: "+
			"this folder) as the instructor will, against the\nrecorded expectations of the rubric. "+
			"Exit status: 0 at full marks, 1 otherwise, 2 if it\ncould not grade.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return fmt.Errorf("%w: check takes one folder", errUsage)
	}
	if *color != "auto" && *color != "always" && *color != "never" {
		return fmt.Errorf("%w: --color is auto, always or never", errUsage)
	}
	dir := "."
	if len(rest) == 1 {
		dir = rest[0]
	}
	if setup.host {
		if setup.kernel != "" || setup.kdir != "" {
			return fmt.Errorf("%w: --host checks on the running kernel: it takes no --kernel or --kdir", errUsage)
		}
		if err := hostReady(); err != nil {
			return &exitStatus{code: 2, err: err}
		}
		fmt.Fprintln(stderr, "grader: warning: --host loads your module into the kernel this machine "+
			"runs, not into a guest: if the module crashes, it can take this machine down, or leave it "+
			"unsafe until a reboot. Save your work first.")
	}
	start := time.Now()
	res, err := selfCheck(ctx, &setup, *expFile, dir, stderr)
	if err != nil {
		if *gradescope != "" {
			writeFile(*gradescope, func(f *os.File) error {
				return report.GradescopeFailure(f, err, time.Since(start))
			})
		}
		return &exitStatus{code: 2, err: err}
	}
	text := report.Feedback(res)
	if useColor(*color, stdout) {
		text = report.Colorize(text)
	}
	fmt.Fprint(stdout, text)
	if *gradescope != "" {
		err := writeFile(*gradescope, func(f *os.File) error { return report.Gradescope(f, res, time.Since(start)) })
		if err != nil {
			return &exitStatus{code: 2, err: err}
		}
	}
	if res.Status != grade.StatusGraded || res.Score < res.MaxScore {
		return &exitStatus{code: 1}
	}
	return nil
}

func selfCheck(ctx context.Context, setup *setupFlags, expFile, dir string, stderr io.Writer) (*grade.Result, error) {
	if expFile == "" {
		expFile = expectationsPath(setup.rubric)
	}
	b, err := os.ReadFile(expFile)
	if err != nil {
		return nil, fmt.Errorf("%w\nhint: the expectations come from the instructor, who records them "+
			"with grader rubric --record; give their file with --expectations", err)
	}
	var e grade.Expectations
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", expFile, err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a folder with a module's sources", dir)
	}
	log := &logger{w: stderr, verbose: setup.verbose}
	_, g, err := setup.open(ctx, log)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	sub, err := submission.FromUpload(dir, g.Workdir())
	if err != nil {
		return nil, err
	}
	if err := g.UseExpectations(&e); err != nil {
		return nil, err
	}
	if e.Kernel != g.Kernel().Release {
		log.warnf("the expectations were recorded on kernel %s and this check runs %s: messages the "+
			"kernel itself prints may differ", e.Kernel, g.Kernel().Release)
	}
	res := g.Grade(ctx, sub)
	if res.Status == grade.StatusError {
		return nil, errors.New(res.Error)
	}
	return res, nil
}

// hostReady says why this machine cannot check on its own kernel, if it
// cannot.
func hostReady() error {
	if os.Geteuid() != 0 {
		return errors.New("--host loads the module into this machine's kernel, which needs root: " +
			"run it with sudo")
	}
	if _, err := os.Stat("/proc/modules"); err != nil {
		return errors.New("this machine's kernel cannot load modules (it has no /proc/modules), so " +
			"--host cannot check here: check in a guest, without --host")
	}
	return nil
}

// useColor says whether to colour output to w: always, never, or on a
// terminal that is not "dumb", unless NO_COLOR is set (no-color.org).
func useColor(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}
