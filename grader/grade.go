package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/kernel"
	"kmodgrade/grader/report"
	"kmodgrade/grader/rubric"
	"kmodgrade/grader/submission"
)

// setupFlags are the flags that say what to grade with, shared by the
// commands that boot guests.
type setupFlags struct {
	rubric, reference    string
	kernel, kdir         string
	qemu, accel, busybox string
	verbose              bool
}

func (s *setupFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.rubric, "rubric", "rubrics/milestone1.yaml", "the rubric `file`")
	fs.StringVar(&s.reference, "reference", "", "the reference module's `folder` (default: the rubric's reference)")
	fs.StringVar(&s.kernel, "kernel", "", "the guest kernel `image` (default: the rubric's, else the newest set up)")
	fs.StringVar(&s.kdir, "kdir", "", "the guest kernel's headers, a kbuild `folder` (default: the image's)")
	fs.StringVar(&s.qemu, "qemu", "qemu-system-x86_64", "the QEMU `executable`")
	fs.StringVar(&s.accel, "accel", "auto", "run guests under `kvm`, tcg, or auto: KVM if a guest boots under it")
	fs.StringVar(&s.busybox, "busybox", "/bin/busybox", "a static busybox `executable` for shell checks")
	fs.BoolVar(&s.verbose, "v", false, "log each step, and the make and QEMU command lines")
}

func gradeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var setup setupFlags
	setup.register(fs)
	jsonOut := fs.String("json", "", "also write the results as JSON to `file`")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: grader grade [flags] SUBMISSION...\n\nGrades each submission folder "+
			"against the rubric, next to the reference, and prints a table.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("%w: grade needs at least one submission folder", errUsage)
	}
	subs, err := submission.FromFolders(paths)
	if err != nil {
		return err
	}
	log := &logger{w: stderr, verbose: setup.verbose}

	rb, g, err := setup.open(ctx, log)
	if err != nil {
		return err
	}
	defer g.Close()
	refDir := setup.reference
	if refDir == "" {
		refDir = rb.Reference
	}
	if refDir == "" {
		return fmt.Errorf("%w: the rubric names no reference; give --reference", errUsage)
	}
	start := time.Now()
	ref, err := g.Reference(ctx, refDir)
	if err != nil {
		return fmt.Errorf("%w\nthe environment or the rubric is broken; grading stopped before any student", err)
	}
	log.printf("reference %s: %g/%g in %.1fs", ref.Module, ref.Score, ref.MaxScore, time.Since(start).Seconds())

	results := []*grade.Result{ref}
	for i, sub := range subs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		res := g.Grade(ctx, sub)
		results = append(results, res)
		log.printf("[%d/%d] %s: %g/%g %s in %.1fs", i+1, len(subs), sub.ID, res.Score, res.MaxScore,
			res.Status, time.Since(start).Seconds())
	}

	if err := report.Table(stdout, rb, results); err != nil {
		return err
	}
	report.Details(stdout, results[1:])
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, rb, results[1:]); err != nil {
			return err
		}
	}
	return nil
}

// open loads the rubric, finds the kernel and prepares a grader.
func (s *setupFlags) open(ctx context.Context, log *logger) (*rubric.Rubric, *grade.Grader, error) {
	rb, err := rubric.Load(s.rubric)
	if err != nil {
		return nil, nil, err
	}
	image, kdir := s.kernel, s.kdir
	if image == "" && kdir == "" {
		image, kdir = rb.KernelImage, rb.KernelHeaders
	}
	k, err := kernel.Find(image, kdir)
	if err != nil {
		return nil, nil, fmt.Errorf("%w\nhint: run make setup, or give --kernel and --kdir (grader doctor says more)", err)
	}
	log.verbosef("kernel %s: image %s, headers %s", k.Release, k.Image, k.Headers)
	g, err := grade.New(ctx, &grade.Config{Rubric: rb, Kernel: k, QEMU: s.qemu, Accel: s.accel,
		Busybox: s.busybox, Log: log.verbosef})
	if err != nil {
		return nil, nil, err
	}
	log.verbosef("guests run under %s", g.Accel())
	return rb, g, nil
}

func writeJSON(path string, rb *rubric.Rubric, results []*grade.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := report.JSON(f, rb, results); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
