// Package check holds the kinds of check a rubric can use. Each kind plans
// the steps the guest must carry out, and judges, in pure Go, the
// observations of those steps: the submission's next to the reference's.
package check

import (
	"fmt"
	"sort"
	"strings"

	"kmodgrade/grader/kmod"
	"kmodgrade/grader/step"
)

// Check is one check of a rubric item, of some kind, with its parameters
// decoded from the rubric.
type Check interface {
	// Validate reports a parameter that is missing or out of range.
	Validate() error
	// Plan adds the steps the check needs; id makes its step keys unique.
	Plan(p *Plan, id string)
	// Judge decides from the submission's evidence, next to the reference's.
	Judge(id string, sub, ref *Evidence) Verdict
}

// Tryer is a check that can tell a student how to see its problem by hand:
// the commands to type in their own VM.
type Tryer interface {
	Try() string
}

// Verdict is the outcome of one check.
type Verdict struct {
	Passed  bool
	Message string
}

func pass(format string, args ...any) Verdict {
	return Verdict{Passed: true, Message: fmt.Sprintf(format, args...)}
}

func failf(format string, args ...any) Verdict {
	return Verdict{Message: fmt.Sprintf(format, args...)}
}

// kinds maps each kind's rubric name to a constructor of its zero value,
// which the rubric's YAML is decoded into.
var kinds = map[string]func() Check{
	"load_message":        func() Check { return &LoadMessage{} },
	"exit_message":        func() Check { return &ExitMessage{} },
	"memory":              func() Check { return &Memory{} },
	"proc_entry":          func() Check { return &ProcEntry{} },
	"write_in_bounds":     func() Check { return &WriteInBounds{} },
	"write_out_of_bounds": func() Check { return &WriteOutOfBounds{} },
	"read_entries":        func() Check { return &ReadEntries{} },
	"shell":               func() Check { return &Shell{} },
}

// New returns the zero value of a kind, or false for an unknown kind.
func New(kind string) (Check, bool) {
	f, ok := kinds[kind]
	if !ok {
		return nil, false
	}
	return f(), true
}

// Kinds lists the kinds' names.
func Kinds() []string {
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Plan is the list of runs a rubric needs. A run loads the module, carries
// out its steps, unloads it, and collects the kernel's memory events; runs
// are kept apart so that a crash costs only the checks of its own run.
type Plan struct {
	Runs []*Run
}

// Run is one load-steps-unload cycle of the module.
type Run struct {
	Name     string
	Loaded   []Step // while the module is loaded
	Unloaded []Step // after it is unloaded
}

// Step is a guest step with the key its observation is filed under.
type Step struct {
	Key string
	step.Step
}

// LifecycleRun is the run that only loads and unloads the module; the
// message and /proc checks look at it.
const LifecycleRun = "lifecycle"

// Run returns the run called name, adding it if it is new.
func (p *Plan) Run(name string) *Run {
	for _, r := range p.Runs {
		if r.Name == name {
			return r
		}
	}
	r := &Run{Name: name}
	p.Runs = append(p.Runs, r)
	return r
}

// The keys of the steps every run has.
func InsmodKey(run string) string   { return run + "/insmod" }
func RmmodKey(run string) string    { return run + "/rmmod" }
func SectionsKey(run string) string { return run + "/sections" }
func TraceKey(run string) string    { return run + "/trace" }

// Key returns the key of a check's step in a run.
func Key(run, id, name string) string { return run + "/" + id + "/" + name }

// RunOf returns the run a key belongs to.
func RunOf(key string) string {
	run, _, _ := strings.Cut(key, "/")
	return run
}

// Evidence is everything observed of one module under a plan.
type Evidence struct {
	// Module is the module's name as the kernel knows it.
	Module string `json:"module"`
	// Ko is the built module, for naming functions and lines; it is not
	// saved with recorded evidence.
	Ko *kmod.File `json:"-"`
	// Obs holds the observation of each step that finished, by key.
	Obs map[string]*step.Observation `json:"observations"`
	// Runs says how each run of the plan went, by name.
	Runs map[string]*RunRecord `json:"runs"`
}

// RunRecord says how one run went.
type RunRecord struct {
	Name string `json:"name"`
	// Failure says, for a student, why the run stopped early: a crash, a
	// hang, or a run not tried because loading the module broke the guest
	// before. It is empty when every step of the run finished.
	Failure string `json:"failure,omitempty"`
}

// Get returns the observation of key, or why there is none.
func (e *Evidence) Get(key string) (*step.Observation, string) {
	if o, ok := e.Obs[key]; ok {
		return o, ""
	}
	if r, ok := e.Runs[RunOf(key)]; ok && r.Failure != "" {
		return nil, r.Failure
	}
	return nil, "the step " + key + " was not carried out"
}

// loaded returns the insmod observation of a run when the module loaded,
// or why it did not.
func (e *Evidence) loaded(run string) (*step.Observation, string) {
	o, why := e.Get(InsmodKey(run))
	if o == nil {
		return nil, why
	}
	if o.Errno != "" || o.Error != "" {
		return nil, "the module did not load: " + insmodError(o)
	}
	return o, ""
}

func insmodError(o *step.Observation) string {
	msg := o.Error
	if o.Errno != "" {
		msg = "insmod failed with " + o.Errno + ": the init function returned an error, " +
			"or the kernel refused the module"
	}
	if len(o.Kmsg) > 0 {
		msg += "; the kernel log says: " + quoteLines(o.Kmsg, 4)
	}
	return msg
}
