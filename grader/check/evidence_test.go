package check

import (
	"fmt"
	"strings"
	"testing"

	"kmodgrade/grader/step"
)

// The milestone-1 module the tests stand in for.
const (
	procDir  = "/proc/csse332"
	procFile = "/proc/csse332/status"
	loadLine = "[csse332]: Module csse332 initializing..."
	exitLine = "[csse332]: Module csse332 exiting..."
	length   = 10
)

// loaderLines are what the kernel itself logs when it loads the module.
var loaderLines = []string{
	"project: loading out-of-tree module taints kernel.",
	"project: module verification failed: signature and/or required key missing - tainting kernel",
}

// array is a stand-in for a correct solution: an array of ints behind
// procFile, "I V" to store, one "I: V\n" entry per read() and then 0.
type array struct {
	vals   []int
	loaded bool
}

func (m *array) do(s step.Step) *step.Observation {
	o := &step.Observation{Op: s.Op}
	switch s.Op {
	case step.OpWrite:
		var i, v int
		_, err := fmt.Sscanf(string(s.Data), "%d %d", &i, &v)
		if err != nil || i < 0 || i >= len(m.vals) {
			o.Errno, o.Error = "EINVAL", "write "+s.Path+": invalid argument"
			return o
		}
		m.vals[i] = v
		o.N = len(s.Data)
	case step.OpRead:
		o.Reads = reads(entries(m.vals)...)
	case step.OpStat:
		o.Stat = &step.Stat{}
		switch {
		case !m.loaded:
		case s.Path == procDir:
			o.Stat = &step.Stat{Exists: true, Dir: true, Mode: 0o555}
		case s.Path == procFile:
			o.Stat = &step.Stat{Exists: true, Mode: 0o666}
		}
	case step.OpShell:
		o.Output = []byte(strings.Join(entries(m.vals), ""))
	}
	return o
}

// entry is how the module formats index i holding v.
func entry(i, v int) string { return fmt.Sprintf("%d: %d\n", i, v) }

func entries(vals []int) []string {
	var out []string
	for i, v := range vals {
		out = append(out, entry(i, v))
	}
	return out
}

// reads returns one read() per chunk, then the read that returns 0.
func reads(chunks ...string) []step.Read {
	var out []step.Read
	for _, c := range chunks {
		out = append(out, step.Read{N: len(c), Data: []byte(c)})
	}
	return append(out, step.Read{})
}

// newEvidence returns empty evidence of the module "project".
func newEvidence() *Evidence {
	return &Evidence{Module: "project", Obs: map[string]*step.Observation{},
		Runs: map[string]*RunRecord{}}
}

// observe plans c as id and returns the evidence of the correct module
// carrying out the plan: the tests then break one observation of it.
func observe(c Check, id string) *Evidence {
	p := &Plan{}
	p.Run(LifecycleRun)
	c.Plan(p, id)
	e := newEvidence()
	for _, r := range p.Runs {
		m := &array{vals: make([]int, length), loaded: true}
		e.Runs[r.Name] = &RunRecord{Name: r.Name}
		e.Obs[InsmodKey(r.Name)] = &step.Observation{Op: step.OpInsmod,
			Kmsg: append(append([]string{}, loaderLines...), loadLine)}
		for _, s := range r.Loaded {
			e.Obs[s.Key] = m.do(s.Step)
		}
		m.loaded = false
		e.Obs[RmmodKey(r.Name)] = &step.Observation{Op: step.OpRmmod, Kmsg: []string{exitLine}}
		for _, s := range r.Unloaded {
			e.Obs[s.Key] = m.do(s.Step)
		}
	}
	return e
}

// verdictCase is a way to break the correct module's evidence, and what
// the check should then say.
type verdictCase struct {
	name   string
	check  Check // the test's check when nil
	fault  func(e *Evidence)
	passed bool
	phrase string
}

// judge runs each case against the evidence of a correct module, broken as
// the case says, next to an unbroken reference.
func judge(t *testing.T, id string, c Check, tests []verdictCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := c
			if tt.check != nil {
				ck = tt.check
			}
			if err := ck.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			sub, ref := observe(ck, id), observe(ck, id)
			if tt.fault != nil {
				tt.fault(sub)
			}

			v := ck.Judge(id, sub, ref)
			if v.Passed != tt.passed || !strings.Contains(v.Message, tt.phrase) {
				t.Errorf("Judge() = %v %q\nwant %v and %q",
					v.Passed, v.Message, tt.passed, tt.phrase)
			}
		})
	}
}

// failedInsmod makes run's insmod fail the way a failing init function does.
func failedInsmod(run string) func(e *Evidence) {
	return func(e *Evidence) {
		e.Obs[InsmodKey(run)] = &step.Observation{Op: step.OpInsmod, Errno: "ENOMEM",
			Error: "init_module: cannot allocate memory",
			Kmsg:  []string{"[csse332]: kmalloc failed"}}
	}
}

// crashed makes run stop at its first loaded step, as a crash does.
func crashed(run string) func(e *Evidence) {
	return func(e *Evidence) {
		for k := range e.Obs {
			if RunOf(k) == run && k != InsmodKey(run) {
				delete(e.Obs, k)
			}
		}
		e.Runs[run].Failure = "the kernel crashed while reading " + procFile
	}
}
