package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"

	"kmodgrade/grader/results"
	"kmodgrade/grader/vm"
)

// slurmFlags say what each task of a Slurm array job may use.
type slurmFlags struct {
	tasks, cpus     int
	mem, time       string
	partition       string
	sbatch          string
	extra           multiFlag
	wait, dryRun    bool
	results         string
	regrade, logAll bool
}

// multiFlag is a flag that may be given many times.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// slurmCmd grades a class as a Slurm job array: each task grades one shard
// into the shared results folder, and grader report merges them.
func slurmCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slurm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var setup setupFlags
	setup.register(fs)
	var exp exportFlags
	exp.register(fs)
	var sf slurmFlags
	fs.IntVar(&sf.tasks, "tasks", 4, "split the class into `n` array tasks (at most one per submission)")
	fs.IntVar(&sf.cpus, "cpus-per-task", 2, "cores for each task; it grades that many submissions at once")
	fs.StringVar(&sf.mem, "mem", "4G", "memory for each task (sbatch --mem)")
	fs.StringVar(&sf.time, "time", "1:00:00", "time limit of each task (sbatch --time)")
	fs.StringVar(&sf.partition, "partition", "", "the Slurm `partition` to run in (default: the cluster's)")
	fs.Var(&sf.extra, "sbatch-arg", "one more sbatch option for the script, such as --account=os332 (repeatable)")
	fs.StringVar(&sf.sbatch, "sbatch", "sbatch", "the sbatch `executable`")
	fs.StringVar(&sf.results, "results", "results", "the shared `folder` every task saves results in")
	fs.BoolVar(&sf.regrade, "regrade", false, "delete the class's saved results first, so that every submission is graded again")
	fs.BoolVar(&sf.wait, "wait", false, "wait for the job to end, then merge the results as grader report does")
	fs.BoolVar(&sf.dryRun, "dry-run", false, "write the job script and print it, but do not submit it")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: grader slurm [flags] SUBMISSION...\n\nGrades a class on a Slurm cluster: "+
			"writes an array job of --tasks tasks into RESULTS/slurm,\neach grading one shard of the class "+
			"with grader grade --shard, and submits it with sbatch.\nThe results folder, the submissions, "+
			"the kernel and the grader's cache must be on a\nfilesystem every node shares. Merge with "+
			"grader report --results RESULTS SUBMISSION...\nor give --wait.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	class, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(class) == 0 {
		return fmt.Errorf("%w: slurm needs at least one submission folder or Moodle zip", errUsage)
	}
	if sf.tasks < 1 || sf.cpus < 1 {
		return fmt.Errorf("%w: --tasks and --cpus-per-task must be at least 1", errUsage)
	}
	if err := exp.check(); err != nil {
		return err
	}
	log := &logger{w: stderr, verbose: setup.verbose}

	job, err := prepareJob(&setup, &sf, class, log)
	if err != nil {
		return err
	}
	if sf.dryRun {
		b, err := os.ReadFile(job.script)
		if err != nil {
			return err
		}
		log.printf("wrote %s (not submitted)", job.script)
		_, err = stdout.Write(b)
		return err
	}
	if err := job.submit(ctx, &sf, log); err != nil {
		return err
	}
	if !sf.wait {
		log.printf("when the job is done, merge with: grader report --results %s %s",
			shellQuote(job.results), strings.Join(quoteAll(job.class), " "))
		return nil
	}
	return mergeClass(job.results, class, &exp, stdout, stderr)
}

// job is an array job ready to submit.
type job struct {
	script  string
	results string   // the shared results folder, absolute
	class   []string // the submissions, absolute
	tasks   int
}

// prepareJob checks the rubric and kernel, copies the grader and a built
// guest agent next to the results, so that the nodes need neither the Go
// toolchain nor this source, and writes the job script.
func prepareJob(setup *setupFlags, sf *slurmFlags, class []string, log *logger) (*job, error) {
	rb, k, err := setup.load(log)
	if err != nil {
		return nil, err
	}
	j := &job{}
	if j.results, err = filepath.Abs(sf.results); err != nil {
		return nil, err
	}
	for _, c := range class {
		a, err := filepath.Abs(c)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(a); err != nil {
			return nil, fmt.Errorf("submission %w", err)
		}
		j.class = append(j.class, a)
	}
	store, err := results.Open(j.results)
	if err != nil {
		return nil, err
	}
	n, err := classSize(store, j.class, sf.regrade)
	if err != nil {
		return nil, err
	}
	j.tasks = min(sf.tasks, n)
	dir := filepath.Join(j.results, "slurm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("failed to find the grader's own executable: %w", err)
	}
	grader := filepath.Join(dir, "grader")
	if err := copyExecutable(self, grader); err != nil {
		return nil, err
	}
	agent := filepath.Join(dir, "agent")
	if setup.agent != "" {
		err = copyExecutable(setup.agent, agent)
	} else {
		var built string
		if built, err = vm.BuildAgent(dir); err == nil && built != agent {
			err = os.Rename(built, agent)
		}
	}
	if err != nil {
		return nil, err
	}

	ref := setup.reference
	if ref == "" {
		ref = rb.Reference
	}
	gradeArgs := []string{grader, "grade", "--shard", "$SLURM_ARRAY_TASK_ID/" + fmt.Sprint(j.tasks),
		"--jobs", "${SLURM_CPUS_PER_TASK:-" + fmt.Sprint(sf.cpus) + "}", "--results", j.results,
		"--rubric", abs(rb.Path), "--reference", abs(ref), "--kernel", k.Image, "--kdir", k.Headers,
		"--agent", agent, "--qemu", setup.qemu, "--accel", setup.accel, "--busybox", setup.busybox}
	if setup.verbose {
		gradeArgs = append(gradeArgs, "-v")
	}
	gradeArgs = append(gradeArgs, "--")
	gradeArgs = append(gradeArgs, j.class...)
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	j.script = filepath.Join(dir, "grade.sbatch")
	return j, writeScript(j.script, scriptData{
		Tasks: j.tasks, CPUs: sf.cpus, Mem: sf.mem, Time: sf.time, Partition: sf.partition,
		Extra: sf.extra, Log: filepath.Join(dir, "task-%a.log"), Dir: cwd, Script: j.script,
		Command: shellCommand(gradeArgs)})
}

// classSize counts the class's submissions, and with regrade deletes their
// saved results so that no task skips them.
func classSize(store *results.Store, class []string, regrade bool) (int, error) {
	work, err := os.MkdirTemp("", "kmodgrade-slurm-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	subs, err := gather(class, work)
	if err != nil {
		return 0, err
	}
	if regrade {
		for _, s := range subs {
			if err := store.Delete(s.ID); err != nil {
				return 0, err
			}
		}
	}
	return len(subs), nil
}

// scriptData fills the job script.
type scriptData struct {
	Tasks, CPUs               int
	Mem, Time, Partition, Log string
	Dir, Script, Command      string
	Extra                     []string
}

var scriptTemplate = template.Must(template.New("sbatch").Funcs(template.FuncMap{
	"minus1": func(n int) int { return n - 1 }, "quote": shellQuote}).Parse(`#!/bin/bash
# Written by "grader slurm": task I of this array job grades shard I of {{.Tasks}}
# of the class into the shared results folder. A task that dies can be rerun
# alone with "sbatch --array=I {{.Script}}": it grades only the
# submissions of its shard that have no result yet.
#SBATCH --job-name=kmodgrade
#SBATCH --array=0-{{.Tasks | minus1}}
#SBATCH --cpus-per-task={{.CPUs}}
#SBATCH --mem={{.Mem}}
#SBATCH --time={{.Time}}
#SBATCH --output={{.Log}}
#SBATCH --requeue
{{- if .Partition}}
#SBATCH --partition={{.Partition}}
{{- end}}
{{- range .Extra}}
#SBATCH {{.}}
{{- end}}
set -eu
cd {{.Dir | quote}}
exec {{.Command}}
`))

func writeScript(path string, d scriptData) error {
	var b strings.Builder
	if err := scriptTemplate.Execute(&b, d); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o755)
}

// submit hands the script to sbatch.
func (j *job) submit(ctx context.Context, sf *slurmFlags, log *logger) error {
	args := []string{"--parsable"}
	if sf.wait {
		args = append(args, "--wait")
	}
	cmd := exec.CommandContext(ctx, sf.sbatch, append(args, j.script)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	log.verbosef("%s", strings.Join(cmd.Args, " "))
	if sf.wait {
		log.printf("submitting %s: %d tasks; waiting for the job to end", j.script, j.tasks)
	}
	err := cmd.Run()
	id, _, _ := strings.Cut(strings.TrimSpace(out.String()), ";")
	if id == "" {
		if err == nil {
			err = errors.New("sbatch printed no job id")
		}
		return fmt.Errorf("failed to submit %s: %v: %s\nhint: is Slurm's sbatch on PATH, and SLURM_CONF "+
			"set if the cluster needs it?", j.script, err, strings.TrimSpace(errOut.String()))
	}
	if err != nil {
		// sbatch --wait fails when any task did: the merge says which
		// submissions are missing, and the task logs say why.
		log.warnf("job %s: some tasks failed (%v); their logs are %s", id, err,
			filepath.Join(j.results, "slurm", "task-*.log"))
		return nil
	}
	log.printf("submitted job %s: %d tasks, logs in %s", id, j.tasks, filepath.Join(j.results, "slurm"))
	return nil
}

// mergeClass prints the table of the class's results and writes the
// exports, failing if a submission has none.
func mergeClass(dir string, class []string, exp *exportFlags, stdout, stderr io.Writer) error {
	store, err := results.Open(dir)
	if err != nil {
		return err
	}
	res, missing, err := saved(store, class)
	if err != nil {
		return err
	}
	if err := printResults(res, exp, stdout, stderr); err != nil {
		return err
	}
	if len(missing) > 0 {
		return &exitStatus{code: 1, err: fmt.Errorf("%d of the class's %d submissions have no result yet: %s\n"+
			"hint: grade them again (rerun their shards): a rerun grades only what has no result",
			len(missing), len(missing)+len(res), strings.Join(missing, ", "))}
	}
	return nil
}

func copyExecutable(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := to + ".new"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, to)
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// shellCommand quotes a command for bash, leaving the words that start
// with $ to be expanded (in double quotes) by the task's shell.
func shellCommand(args []string) string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "$") {
			out = append(out, `"`+a+`"`)
			continue
		}
		out = append(out, shellQuote(a))
	}
	return strings.Join(out, " ")
}

func quoteAll(args []string) []string {
	var out []string
	for _, a := range args {
		out = append(out, shellQuote(a))
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
