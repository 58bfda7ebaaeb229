package grade

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"kmodgrade/grader/build"
	"kmodgrade/grader/check"
	"kmodgrade/grader/kmod"
	"kmodgrade/grader/step"
	"kmodgrade/grader/vm"
)

// allowedTaint is the taint every graded module brings: out-of-tree (O) and
// unsigned (E). Any other flag (a warning, an oops, a lockup) means the
// guest is no longer to be trusted.
const allowedTaint = 1<<12 | 1<<13

// runner carries out a plan's runs for one module, in as few guests as it
// can: a guest is thrown away after a run that crashed it, and the next run
// starts in a fresh one.
type runner struct {
	g   *Grader
	mod *build.Module
	ko  []byte // the module as the guest gets it, gzipped
	ev  *check.Evidence
	// timing adds up the time spent in guests.
	timing Timing
	guest  *vm.Guest
	// early, when set, is the first guest, started while the module built.
	early *earlyGuest
	// broken says why loading the module itself crashes or hangs the guest;
	// later runs are then not tried, since they would start the same way.
	broken string
	// allowed is the taint that is no sign of trouble: the graded module's,
	// and on this machine's own kernel whatever it had when grading began.
	allowed uint64
}

// local says whether the runs are on this machine's own kernel: there is
// no fresh guest after a run that went wrong.
func (r *runner) local() bool { return r.g.cfg.LocalAgent != nil }

// unsafeHere is why later runs are not tried on this machine's own kernel.
const unsafeHere = "an earlier check went wrong on this machine's own kernel (--host), which may " +
	"no longer be safe to test on: reboot, then check again, or check in a guest (without --host)"

func (r *runner) close() {
	if r.guest != nil {
		r.guest.Close()
		r.guest = nil
	}
}

// run carries out one run. A crash of the guest is recorded in the run's
// record; only a failure to start a guest at all is returned.
func (r *runner) run(ctx context.Context, run *check.Run) error {
	rec := &check.RunRecord{Name: run.Name}
	r.ev.Runs[run.Name] = rec
	if r.broken != "" {
		rec.Failure = "not run: " + r.broken
		return nil
	}
	if r.guest == nil {
		if err := r.startGuest(ctx); err != nil {
			return err
		}
	}
	r.g.cfg.logf("%s: run %s", r.mod.Name, run.Name)

	console := r.guest.Console().Len()
	stillLoaded := false
	steps := r.steps(run)
	plain := make([]step.Step, len(steps))
	for i, s := range steps {
		plain[i] = s.Step
	}
	obs, doErr := r.guest.DoAll(ctx, plain, r.g.cfg.Rubric.StepTimeout)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for i, s := range steps {
		var o *step.Observation
		var err error
		if i < len(obs) {
			o = obs[i]
		} else {
			err = doErr
		}
		if o != nil {
			r.g.cfg.logf("%s: %s: %s", r.mod.Name, describe(s.Step), summarize(o))
			if s.Key != "" {
				r.ev.Obs[s.Key] = o
			}
		}
		failure := r.failure(s.Step, o, err, console)
		if failure == "" && s.Op == step.OpRmmod && o.Errno != "" {
			stillLoaded = true
		}
		if failure != "" {
			r.g.cfg.logf("%s: %s", r.mod.Name, failure)
			if r.guest != nil {
				r.g.cfg.logf("%s: the guest's console, from the start of the run:\n%s", r.mod.Name,
					tail(r.guest.Console().Since(console), 80))
			}
			rec.Failure = failure
			if s.Op == step.OpInsmod {
				r.broken = failure
			} else if r.local() {
				r.broken = unsafeHere
			}
			r.close()
			return nil
		}
	}
	if stillLoaded {
		r.close() // the next run could not load the module again: it needs a fresh guest
		if r.local() {
			r.broken = "the module could not be unloaded from this machine's kernel (--host), so " +
				"the checks that load it again were not run: reboot, then check again"
		}
	}
	return nil
}

// startGuest starts a guest and hands it the module.
func (r *runner) startGuest(ctx context.Context) error {
	if r.local() {
		if _, err := os.Stat("/sys/module/" + r.mod.Name); err == nil {
			return fmt.Errorf("a module named %s is loaded on this machine already: unload it "+
				"(sudo rmmod %s), then check again", r.mod.Name, r.mod.Name)
		}
	}
	start := time.Now()
	s, early := r.takeEarly()
	guest, err := s.guest, s.err
	if !early {
		guest, err = r.g.newGuest(ctx)
	}
	if err != nil {
		return fmt.Errorf("failed to start a guest: %w", err)
	}
	// An early guest costs only the wait for it: the rest overlapped the build.
	r.timing.Guests += time.Since(start)
	r.timing.GuestsStarted++
	o, err := guest.Do(ctx, step.Step{Op: step.OpPut, Path: r.modulePath(), Data: r.ko, Gzip: true},
		r.g.cfg.Rubric.StepTimeout)
	if err == nil && o.Error != "" {
		err = errors.New(o.Error)
	}
	if err != nil {
		guest.Close()
		return fmt.Errorf("failed to hand the module to the guest: %w", err)
	}
	r.guest = guest
	r.allowed = allowedTaint | guest.StartTaint
	return nil
}

// takeEarly takes the guest started while the module built, if any.
func (r *runner) takeEarly() (startedGuest, bool) {
	if r.early == nil {
		return startedGuest{}, false
	}
	return r.early.take()
}

// modulePath is where the module is in the guest.
func (r *runner) modulePath() string { return "/tmp/" + r.mod.Name + ".ko" }

// steps wraps a run's own steps: trace, load, locate sections, the loaded
// steps, unload, collect the trace, then the unloaded steps.
func (r *runner) steps(run *check.Run) []check.Step {
	name := run.Name
	module := r.modulePath()
	steps := []check.Step{
		{Step: step.Step{Op: step.OpTraceStart}},
		{Key: check.InsmodKey(name), Step: step.Step{Op: step.OpInsmod, Path: module}},
		// Only the code sections: a memory event's call site is in code,
		// and each section is a file to read, tens of them, slow under TCG.
		{Key: check.SectionsKey(name), Step: step.Step{Op: step.OpSections, Module: r.mod.Name,
			Names: r.ev.Ko.Code}},
	}
	steps = append(steps, run.Loaded...)
	steps = append(steps,
		check.Step{Key: check.RmmodKey(name), Step: step.Step{Op: step.OpRmmod, Module: r.mod.Name}},
		check.Step{Key: check.TraceKey(name), Step: step.Step{Op: step.OpTraceStop, Module: r.mod.Name}})
	return append(steps, run.Unloaded...)
}

// failure says what went wrong with the guest during a step, for a student,
// or "" if nothing did.
//
// A step that finished is judged by the kernel log it produced: steps are
// sent ahead, so by the time its answer is read the console may already
// show what a later step caused. A step that did not finish is judged by
// the console, which outlives the guest.
func (r *runner) failure(s step.Step, o *step.Observation, err error, console int) string {
	var reports []vm.Report
	switch {
	case err == nil:
		reports = vm.FindReports(strings.Join(o.Kmsg, "\n"))
		if len(reports) == 0 && o.Tainted&^r.allowed != 0 && r.guest != nil {
			// Tainted, with no report in this step's log: the report may
			// have come with an earlier step, still on the console.
			reports = r.guest.Console().Reports(console)
		}
	case r.guest != nil:
		reports = r.guest.Console().Reports(console)
	}
	what := describe(s)
	if len(reports) > 0 {
		reports[0].ModuleFrame = r.where(reports[0].ModuleFrame)
		reports[0].Title = kmod.StripSandbox(reports[0].Title)
	}
	if err != nil && r.guest != nil && r.guest.Noise() > 0 {
		// Lines on the agent's channel that are not its frames mean that
		// something wrote to the agent's channel: an answer it garbled is
		// lost, and the step looks hung.
		port := "its virtio console port: does the module write to it?"
		if !r.g.vm.Virtio {
			port = "its serial port, /dev/ttyS1: does the module write to the serial ports?"
		}
		what += fmt.Sprintf(" (and %d lines that were not the agent's arrived on %s)", r.guest.Noise(), port)
	}
	guest := "the guest"
	if r.local() {
		guest = "this machine's kernel"
	}
	switch {
	case errors.Is(err, vm.ErrTimeout) && len(reports) > 0:
		return fmt.Sprintf("%s hung while %s: %s", guest, what, reports[0].Summary())
	case errors.Is(err, vm.ErrTimeout):
		return fmt.Sprintf("%s hung while %s: no answer within %v (an endless loop, or a "+
			"wait that never ends, in the module?)", guest, what, r.g.cfg.Rubric.StepTimeout)
	case err != nil && len(reports) > 0:
		return fmt.Sprintf("the kernel crashed while %s: %s", what, reports[0].Summary())
	case err != nil && r.local():
		return fmt.Sprintf("the grader's agent stopped while %s (%v), with no crash report in the "+
			"kernel log", what, err)
	case err != nil:
		return fmt.Sprintf("the guest stopped while %s (%v), with no crash report on the console", what, err)
	case len(reports) > 0:
		return fmt.Sprintf("the kernel reported a problem while %s: %s", what, reports[0].Summary())
	case o.Tainted&^r.allowed != 0:
		return fmt.Sprintf("the kernel was tainted (flags %s) while %s%s", taintFlags(o.Tainted&^r.allowed),
			what, taintMeaning(o.Tainted&^r.allowed))
	}
	return ""
}

// where adds the source file and line to a frame of the module, when the
// module has debug information.
func (r *runner) where(frame string) string {
	if frame == "" {
		return ""
	}
	if loc, ok := r.ev.Ko.ResolveFrame(frame); ok && loc.File != "" {
		return fmt.Sprintf("%s (%s:%d)", frame, loc.File, loc.Line)
	}
	return frame
}

// describe says what a step does, for messages.
func describe(s step.Step) string {
	switch s.Op {
	case step.OpInsmod:
		return "loading the module (insmod)"
	case step.OpRmmod:
		return "unloading the module (rmmod)"
	case step.OpWrite:
		return fmt.Sprintf("writing %q to %s", s.Data, s.Path)
	case step.OpRead:
		return fmt.Sprintf("reading %s (buffer of %d bytes)", s.Path, s.BufSize)
	case step.OpStat:
		return "looking at " + s.Path
	case step.OpShell:
		return fmt.Sprintf("running %q", s.Command)
	case step.OpTraceStart, step.OpTraceStop:
		return "collecting the kernel's memory events"
	case step.OpSections:
		return "reading where the module was loaded"
	}
	return s.Op
}

// summarize is the -v line of an observation.
func summarize(o *step.Observation) string {
	var parts []string
	if o.Errno != "" {
		parts = append(parts, o.Errno)
	} else {
		parts = append(parts, "ok")
	}
	if len(o.Reads) > 0 {
		parts = append(parts, fmt.Sprintf("%d reads", len(o.Reads)))
	}
	if len(o.Events) > 0 {
		parts = append(parts, fmt.Sprintf("%d memory events", len(o.Events)))
	}
	for _, l := range o.Kmsg {
		parts = append(parts, fmt.Sprintf("log %q", l))
	}
	parts = append(parts, (time.Duration(o.Micros) * time.Microsecond).String())
	return strings.Join(parts, ", ")
}

// taintFlags spells taint bits as the kernel does in its reports.
func taintFlags(t uint64) string {
	const letters = "PFSRMBUDAWCIOELKXTN"
	var b strings.Builder
	for i := 0; i < len(letters); i++ {
		if t&(1<<i) != 0 {
			b.WriteByte(letters[i])
		}
	}
	return b.String()
}

// taintMeanings say what the taint flags a module can cause mean.
var taintMeanings = []struct {
	bit  uint
	text string
}{
	{5, "bad page or slab state: the module corrupted memory (a write after kfree, a double kfree, " +
		"or a write past the end of an allocation)"},
	{7, "the kernel died (an oops)"},
	{9, "the kernel printed a warning"},
	{14, "a CPU was stuck in the kernel (a soft lockup)"},
}

// taintMeaning explains taint flags for a student, or is "".
func taintMeaning(t uint64) string {
	var parts []string
	for _, m := range taintMeanings {
		if t&(1<<m.bit) != 0 {
			parts = append(parts, m.text)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}

// tail returns the last n lines of text.
func tail(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
