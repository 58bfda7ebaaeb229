// Package bench measures grading speed: it grades the same class of
// submissions with guests restored from a saved one (the fast path) and
// with a cold boot for every guest (the straightforward path), in one
// process, checks that both give the same grades, and reports where the
// time went.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"kmodgrade/grader/batch"
	"kmodgrade/grader/grade"
	"kmodgrade/grader/results"
	"kmodgrade/grader/submission"
)

// Mutants are the sample submissions a benchmark class is made of: correct
// modules and mutants of the reference with known bugs. The one whose init
// hangs is left out: its time is the step timeout, the same on both paths.
var Mutants = []string{"correct", "two_files", "pre56_fops", "leak", "proc_mode", "write_off_by_one",
	"read_all_at_once", "read_never_ends", "read_oops", "no_prefix", "exit_message_at_load",
	"does_not_build"}

// Class copies n submissions, cycling through the mutants in samples, into
// dir, each under a name of its own.
func Class(samples, dir string, n int) ([]submission.Submission, error) {
	var paths []string
	for i := 0; i < n; i++ {
		name := Mutants[i%len(Mutants)]
		dst := filepath.Join(dir, fmt.Sprintf("s%03d-%s", i, name))
		if err := copyDir(filepath.Join(samples, name), dst); err != nil {
			return nil, err
		}
		paths = append(paths, dst)
	}
	return submission.FromFolders(paths)
}

func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Path is the measure of one way of grading the class.
type Path struct {
	Name    string
	Setup   time.Duration // preparing the grader: agent, accelerator, saved guest
	Wall    time.Duration // grading the reference and the class
	CPU     time.Duration // user and system time of the grader and everything it ran
	Timing  grade.Timing  // summed over the class
	Results []*grade.Result
}

// Measure grades the class one way. newGrader makes the grader; the clock
// starts before it, since the fast path's saved guest is part of its cost.
func Measure(ctx context.Context, name string, newGrader func() (*grade.Grader, error),
	reference string, subs []submission.Submission, jobs int) (*Path, error) {
	p := &Path{Name: name}
	cpu0 := cpuTime()
	start := time.Now()
	g, err := newGrader()
	if err != nil {
		return nil, err
	}
	defer g.Close()
	p.Setup = time.Since(start)

	dir, err := os.MkdirTemp("", "kmodgrade-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	store, err := results.Open(dir)
	if err != nil {
		return nil, err
	}
	res, _, err := batch.Run(ctx, g, store, subs, batch.Options{Jobs: jobs, Regrade: true,
		Reference: reference, Inputs: name})
	if err != nil {
		return nil, err
	}
	p.Wall, p.CPU, p.Results = time.Since(start), cpuTime()-cpu0, res
	for _, r := range res {
		if t := r.Timing; t != nil {
			p.Timing.Build += t.Build
			p.Timing.Guests += t.Guests
			p.Timing.Steps += t.Steps
			p.Timing.Judge += t.Judge
			p.Timing.GuestsStarted += t.GuestsStarted
		}
	}
	return p, nil
}

// cpuTime is the time the machine's cores have been busy (user, nice,
// system, interrupts) since boot, from /proc/stat. The grader's own
// getrusage would miss most of it: the compiler runs under bubblewrap,
// whose processes are reaped inside their own PID namespace and never
// reach the grader's children's times. The machine-wide figure counts
// everything else the machine does too, so the benchmark is to be run on
// an otherwise idle machine. Where /proc/stat cannot be read, it falls
// back to getrusage, which undercounts.
func cpuTime() time.Duration {
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		if d, ok := busyTime(string(b)); ok {
			return d
		}
	}
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}

// busyTime reads the busy time of all cores from the text of /proc/stat:
// the first line's user, nice, system, irq and softirq ticks, at the
// kernel's USER_HZ of 100 ticks a second.
func busyTime(stat string) (time.Duration, bool) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}

// hexNumber matches the addresses and hashes that differ from boot to boot
// (a page fault's address, a hashed pointer) and say nothing of the grade.
var hexNumber = regexp.MustCompile(`\b(0x)?[0-9a-f]{8,}\b`)

// Differences lists where two runs of the same class disagree: a score, or
// a check's verdict or message (addresses aside).
func Differences(a, b []*grade.Result) []string {
	var out []string
	if len(a) != len(b) {
		return []string{fmt.Sprintf("%d results against %d", len(a), len(b))}
	}
	for i := range a {
		ra, rb := a[i], b[i]
		if ra.Score != rb.Score || ra.Status != rb.Status {
			out = append(out, fmt.Sprintf("%s: %g %s against %g %s", ra.ID, ra.Score, ra.Status, rb.Score, rb.Status))
			continue
		}
		for j := range ra.Items {
			for k := range ra.Items[j].Checks {
				ca, cb := ra.Items[j].Checks[k], rb.Items[j].Checks[k]
				ma, mb := hexNumber.ReplaceAllString(ca.Message, "X"), hexNumber.ReplaceAllString(cb.Message, "X")
				if ca.Passed != cb.Passed || ma != mb {
					out = append(out, fmt.Sprintf("%s / %s: %q against %q", ra.ID, ca.Name, ca.Message, cb.Message))
				}
			}
		}
	}
	return out
}

// Print writes the two paths side by side, per submission, with the ratio.
func Print(w io.Writer, fast, slow *Path, n, jobs int) {
	per := func(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()/float64(n)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "path\tsetup s\twall s\tCPU s\twall s/sub\tCPU s/sub\tbuild\tguests\tsteps\tjudge\tguests/sub\t\n")
	for _, p := range []*Path{slow, fast} {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t\n", p.Name, p.Setup.Seconds(),
			p.Wall.Seconds(), p.CPU.Seconds(), per(p.Wall), per(p.CPU), per(p.Timing.Build),
			per(p.Timing.Guests), per(p.Timing.Steps), per(p.Timing.Judge),
			float64(p.Timing.GuestsStarted)/float64(n))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d submissions, %d at a time; build, guests, steps and judge are seconds per "+
		"submission summed over the jobs (CPU-like), wall and CPU include setup and the reference; "+
		"CPU is the machine's busy time, all processes, so run it on an otherwise idle machine.\n", n, jobs)
	fmt.Fprintf(w, "fast path: %.1fx less wall time, %.1fx less CPU time than the straightforward path\n",
		slow.Wall.Seconds()/fast.Wall.Seconds(), slow.CPU.Seconds()/fast.CPU.Seconds())
}

// Machine describes the machine the benchmark ran on, for the record.
func Machine(accel string) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	cores := 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cores = strings.Count(string(b), "processor\t:")
	}
	return fmt.Sprintf("%s, %d cores, guests under %s", cpu, cores, strings.ToUpper(accel))
}
