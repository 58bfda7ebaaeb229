package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"kmodgrade/grader/batch"
	"kmodgrade/grader/grade"
	"kmodgrade/grader/kernel"
	"kmodgrade/grader/report"
	"kmodgrade/grader/results"
	"kmodgrade/grader/rubric"
	"kmodgrade/grader/submission"
)

// setupFlags are the flags that say what to grade with, shared by the
// commands that boot guests.
type setupFlags struct {
	rubric, reference    string
	kernel, kdir         string
	qemu, accel, busybox string
	agent                string
	verbose              bool
	// ownKernel, for a student's self-check, prefers the kernel this
	// machine runs to the packaged default, when its image and headers
	// are at hand.
	ownKernel bool
	// host grades on this machine's own running kernel, with no guest
	// (grader check --host).
	host bool
}

func (s *setupFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.rubric, "rubric", "rubrics/milestone1.yaml", "the rubric `file`")
	fs.StringVar(&s.reference, "reference", "", "the reference module's `folder` (default: the rubric's reference)")
	fs.StringVar(&s.kernel, "kernel", "", "the guest kernel `image` (default: the rubric's, else the newest set up)")
	fs.StringVar(&s.kdir, "kdir", "", "the guest kernel's headers, a kbuild `folder` (default: the image's)")
	fs.StringVar(&s.qemu, "qemu", "qemu-system-x86_64", "the QEMU `executable`")
	fs.StringVar(&s.accel, "accel", "auto", "run guests under `kvm`, tcg, or auto: KVM if a guest boots under it")
	fs.StringVar(&s.busybox, "busybox", "/bin/busybox", "a static busybox `executable` for shell checks")
	fs.StringVar(&s.agent, "agent", "", "a prebuilt guest agent `executable` (default: build it from the grader's source)")
	fs.BoolVar(&s.verbose, "v", false, "log each step, and the make and QEMU command lines")
}

// exportFlags are the outputs that both grade and report can write.
type exportFlags struct {
	json, csv, feedbackZip  string
	worksheet, worksheetOut string
}

func (e *exportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.json, "json", "", "also write the results as JSON to `file`")
	fs.StringVar(&e.csv, "csv", "", "also write a CSV (name, participant id, a column per item, total) to `file`")
	fs.StringVar(&e.feedbackZip, "feedback-zip", "", "write a zip of feedback files for Moodle to `file`")
	fs.StringVar(&e.worksheet, "moodle-worksheet", "", "Moodle's grading worksheet `file` to fill (with --moodle-out)")
	fs.StringVar(&e.worksheetOut, "moodle-out", "", "where to write the filled worksheet (`file`)")
}

func (e *exportFlags) check() error {
	if (e.worksheet == "") != (e.worksheetOut == "") {
		return fmt.Errorf("%w: --moodle-worksheet and --moodle-out go together", errUsage)
	}
	return nil
}

func gradeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("grade", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var setup setupFlags
	setup.register(fs)
	var exp exportFlags
	exp.register(fs)
	jobs := fs.Int("jobs", defaultJobs(), "grade `n` submissions at once")
	resultsDir := fs.String("results", "results", "save each submission's result in `folder`")
	regrade := fs.Bool("regrade", false, "grade again submissions whose saved result is up to date")
	gradescope := fs.String("gradescope", "", "write Gradescope's results.json for the one submission graded to `file`")
	shardFlag := fs.String("shard", "", "grade only shard `I/N` of the class (default: a Slurm array task's own, else all)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: grader grade [flags] SUBMISSION...\n\nGrades each submission against "+
			"the rubric, next to the reference, and prints a table. A SUBMISSION is a folder\nwith a "+
			"module's sources, or Moodle's \"Download all submissions\" zip.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	args, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return fmt.Errorf("%w: grade needs at least one submission folder or Moodle zip", errUsage)
	}
	if err := exp.check(); err != nil {
		return err
	}
	if *jobs < 1 {
		return fmt.Errorf("%w: --jobs must be at least 1", errUsage)
	}
	if *gradescope != "" && len(args) > 1 {
		return fmt.Errorf("%w: --gradescope writes one submission's results; %d were given", errUsage, len(args))
	}
	shard, err := submission.ParseShard(*shardFlag)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	for _, a := range args {
		if _, err := os.Stat(a); err != nil {
			return fmt.Errorf("submission %w", err)
		}
	}
	log := &logger{w: stderr, verbose: setup.verbose}

	rb, g, err := setup.open(ctx, log)
	if err != nil {
		return err
	}
	defer g.Close()
	subs, err := gather(args, g.Workdir())
	if err != nil {
		return err
	}
	if *gradescope != "" && len(subs) != 1 {
		return fmt.Errorf("%w: --gradescope writes one submission's results; %d were given", errUsage, len(subs))
	}
	if !shard.Whole() {
		total := len(subs)
		subs = shard.Of(subs)
		log.printf("shard %s: %d of the class's %d submissions", shard, len(subs), total)
	}
	refDir := setup.reference
	if refDir == "" {
		refDir = rb.Reference
	}
	if refDir == "" {
		return fmt.Errorf("%w: the rubric names no reference; give --reference", errUsage)
	}
	store, err := results.Open(*resultsDir)
	if err != nil {
		return err
	}
	inputs, err := inputsKey(rb, refDir, g.Kernel())
	if err != nil {
		return err
	}

	progress := newProgress(stderr, log)
	res, ref, err := batch.Run(ctx, &referenceLogger{g, progress}, store, subs, batch.Options{Jobs: *jobs,
		Regrade: *regrade, Inputs: inputs, Reference: refDir, Progress: progress})
	if err != nil {
		if errors.Is(err, grade.ErrReference) {
			return fmt.Errorf("%w\nthe environment or the rubric is broken; grading stopped before any student", err)
		}
		return err
	}
	shown := res
	if ref != nil {
		shown = append([]*grade.Result{ref}, res...)
	}
	if err := report.Table(stdout, shown); err != nil {
		return err
	}
	report.Details(stdout, res)
	report.Summary(stdout, res)
	if *gradescope != "" {
		took := res[0].Timing.Total()
		err := writeFile(*gradescope, func(f *os.File) error { return report.Gradescope(f, res[0], took) })
		if err != nil {
			return err
		}
	}
	return exp.write(rb.Name, res, log)
}

// gather turns the arguments into submissions: folders as they are, and
// each Moodle zip unpacked into work.
func gather(args []string, work string) ([]submission.Submission, error) {
	var subs, folders []submission.Submission
	var dirs []string
	for i, a := range args {
		if !submission.IsMoodleZip(a) {
			dirs = append(dirs, a)
			continue
		}
		s, err := submission.FromMoodleZip(a, filepath.Join(work, fmt.Sprintf("moodle-%d", i)))
		if err != nil {
			return nil, err
		}
		subs = append(subs, s...)
	}
	folders, err := submission.FromFolders(dirs)
	if err != nil {
		return nil, err
	}
	subs = append(subs, folders...)
	seen := map[string]bool{}
	for _, s := range subs {
		if seen[s.ID] {
			return nil, fmt.Errorf("two submissions are called %s: grade them in separate runs", s.ID)
		}
		seen[s.ID] = true
	}
	return subs, nil
}

// inputsKey is what every grade of this run depends on besides the
// submission: the rubric, the reference and the kernel.
func inputsKey(rb *rubric.Rubric, refDir string, k *kernel.Kernel) (string, error) {
	h := results.NewHasher()
	if err := h.File("rubric", rb.Path); err != nil {
		return "", err
	}
	if err := h.Tree("reference", refDir); err != nil {
		return "", fmt.Errorf("reference: %w", err)
	}
	h.String("kernel", k.Release)
	if err := h.File("image", k.Image); err != nil {
		return "", err
	}
	return h.Sum(), nil
}

// referenceLogger says how the reference did, on its way through.
type referenceLogger struct {
	*grade.Grader
	progress *progress
}

func (r *referenceLogger) Reference(ctx context.Context, dir string) (*grade.Result, error) {
	res, err := r.Grader.Reference(ctx, dir)
	if err == nil {
		r.progress.printf("reference %s: %g/%g", res.Module, res.Score, res.MaxScore)
	}
	return res, err
}

// load loads the rubric and finds the kernel: the flags', else the
// rubric's, else the newest set up.
func (s *setupFlags) load(log *logger) (*rubric.Rubric, *kernel.Kernel, error) {
	rb, err := rubric.Load(s.rubric)
	if err != nil {
		return nil, nil, err
	}
	image, kdir := s.kernel, s.kdir
	if s.host {
		k, err := kernel.RunningHeaders()
		if err != nil {
			return nil, nil, err
		}
		log.verbosef("kernel %s, the one this machine runs, with headers %s", k.Release, k.Headers)
		return rb, k, nil
	}
	if image == "" && kdir == "" {
		image, kdir = rb.KernelImage, rb.KernelHeaders
	}
	if image == "" && kdir == "" && s.ownKernel {
		k, err := kernel.Running()
		if err == nil {
			log.verbosef("kernel %s, the one this machine runs: image %s, headers %s", k.Release, k.Image, k.Headers)
			return rb, k, nil
		}
		log.verbosef("%v: using the packaged default", err)
	}
	k, err := kernel.Find(image, kdir)
	if err != nil {
		return nil, nil, fmt.Errorf("%w\nhint: run make setup, or give --kernel and --kdir (grader doctor says more)", err)
	}
	log.verbosef("kernel %s: image %s, headers %s", k.Release, k.Image, k.Headers)
	return rb, k, nil
}

// config is the grader's configuration from the flags.
func (s *setupFlags) config(rb *rubric.Rubric, k *kernel.Kernel, log *logger) *grade.Config {
	cfg := &grade.Config{Rubric: rb, Kernel: k, QEMU: s.qemu, Accel: s.accel, Busybox: s.busybox,
		Agent: s.agent, Log: log.verbosef}
	if s.host {
		// The agent is this very program, in its local mode (grader host-agent).
		exe, err := os.Executable()
		if err != nil {
			exe = os.Args[0]
		}
		cfg.LocalAgent = []string{exe, "host-agent"}
	}
	return cfg
}

// open loads the rubric, finds the kernel and prepares a grader.
func (s *setupFlags) open(ctx context.Context, log *logger) (*rubric.Rubric, *grade.Grader, error) {
	rb, k, err := s.load(log)
	if err != nil {
		return nil, nil, err
	}
	g, err := grade.New(ctx, s.config(rb, k, log))
	if err != nil {
		return nil, nil, err
	}
	log.verbosef("guests run under %s", g.Accel())
	return rb, g, nil
}

// defaultJobs is how many submissions are graded at once unless --jobs
// says: twice the cores. A guest's steps wait on its emulated serial port
// more than they compute, so with one guest a core the cores sit partly
// idle (measured with grader bench: 40 submissions in 55 s with two at a
// time on two cores, 43 s with four, 45 s with six).
func defaultJobs() int { return 2 * runtime.NumCPU() }
