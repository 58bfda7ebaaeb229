package check

import (
	"fmt"
	"sort"
	"strings"

	"kmodgrade/grader/kmod"
	"kmodgrade/grader/step"
)

// Memory checks that every kmalloc the module makes, from insmod to the end
// of rmmod, is freed, and none twice. It looks at the kmem tracepoints of
// every run that finished.
type Memory struct {
	// MinAllocations is how many allocations the module must make in all,
	// for an assignment that asks for kmalloc; 0 does not ask.
	MinAllocations int `yaml:"min_allocations"`
}

func (c *Memory) Validate() error {
	if c.MinAllocations < 0 {
		return fmt.Errorf("min_allocations must not be negative")
	}
	return nil
}

func (c *Memory) Plan(p *Plan, id string) {}

// allocation is a kmalloc by the module that is still live.
type allocation struct {
	bytes int
	site  string
}

// memoryFinding is what replaying one run's events found.
type memoryFinding struct {
	allocs      int
	leaks       []allocation
	doubleFrees []string
}

func (c *Memory) Judge(id string, sub, ref *Evidence) Verdict {
	var total memoryFinding
	var checked, skipped []string
	overrun := false
	for _, run := range sortedRuns(sub) {
		rec := sub.Runs[run]
		trace, _ := sub.Get(TraceKey(run))
		if rec.Failure != "" || trace == nil {
			skipped = append(skipped, run)
			continue
		}
		if _, why := sub.loaded(run); why != "" {
			continue // nothing was loaded, so nothing to account for
		}
		sections, _ := sub.Get(SectionsKey(run))
		f := replay(trace.Events, sections, sub.Ko)
		total.allocs += f.allocs
		total.leaks = append(total.leaks, f.leaks...)
		total.doubleFrees = append(total.doubleFrees, f.doubleFrees...)
		overrun = overrun || trace.Overrun
		checked = append(checked, run)
	}

	note := coverage(checked, skipped, overrun)
	switch {
	case len(checked) == 0:
		if len(skipped) > 0 {
			return failf("no run of the module finished, so its memory use could not be checked%s", note)
		}
		return failf("the module never loaded, so its memory use could not be checked")
	case len(total.doubleFrees) > 0:
		return failf("kfree was called twice on the same allocation: %s%s",
			strings.Join(total.doubleFrees, "; "), note)
	case len(total.leaks) > 0:
		return failf("%s%s", describeLeaks(total.leaks), note)
	case total.allocs < c.MinAllocations && len(skipped) > 0:
		return failf("the module's memory use could not be checked: the runs that finished made %d "+
			"kmalloc calls where at least %d are expected, and %s did not finish (the other items say why)",
			total.allocs, c.MinAllocations, strings.Join(skipped, ", "))
	case total.allocs < c.MinAllocations:
		return failf("the module made %d kmalloc calls, and the assignment asks for at least %d "+
			"(allocate the array with kmalloc or kzalloc, and free it)%s",
			total.allocs, c.MinAllocations, note)
	}
	return pass("all %d allocations were freed once%s", total.allocs, note)
}

func sortedRuns(e *Evidence) []string {
	var runs []string
	for r := range e.Runs {
		runs = append(runs, r)
	}
	sort.Strings(runs)
	return runs
}

func coverage(checked, skipped []string, overrun bool) string {
	var notes []string
	if len(skipped) > 0 {
		notes = append(notes, fmt.Sprintf("checked in %d of %d runs; not in %s, which did not finish",
			len(checked), len(checked)+len(skipped), strings.Join(skipped, ", ")))
	}
	if overrun {
		notes = append(notes, "the kernel's trace buffer overflowed, so some events may be missing")
	}
	if len(notes) == 0 {
		return ""
	}
	return " (" + strings.Join(notes, "; ") + ")"
}

// replay pairs the allocations of one run with their frees, in order.
func replay(events []step.MemEvent, sections *step.Observation, ko *kmod.File) memoryFinding {
	var f memoryFinding
	live := map[string]allocation{}
	freed := map[string]string{} // pointer -> where the module's allocation was made
	for _, ev := range events {
		site, mine := attribute(ev, sections, ko)
		switch ev.Kind {
		case "kmalloc":
			delete(freed, ev.Ptr)
			if mine {
				f.allocs++
				live[ev.Ptr] = allocation{bytes: ev.Bytes, site: site}
			} else {
				delete(live, ev.Ptr)
			}
		case "kfree":
			if a, ok := live[ev.Ptr]; ok {
				delete(live, ev.Ptr)
				freed[ev.Ptr] = a.site
			} else if where, ok := freed[ev.Ptr]; ok && mine {
				f.doubleFrees = append(f.doubleFrees,
					fmt.Sprintf("memory allocated at %s freed again at %s", where, site))
			}
		}
	}
	for _, a := range live {
		f.leaks = append(f.leaks, a)
	}
	return f
}

// attribute says whether an event's call site is in the module, and names it.
func attribute(ev step.MemEvent, sections *step.Observation, ko *kmod.File) (string, bool) {
	if ev.Caller != "" {
		return ev.Caller, true
	}
	if ev.CallSite == 0 || sections == nil || ko == nil {
		return "", false
	}
	p, ok := ko.Locate(ev.CallSite, sections.Sections)
	if !ok {
		return "", false
	}
	return ko.Resolve(p).String(), true
}

// describeLeaks groups leaks by call site: "3 allocations never freed: 6
// bytes at csse332_write (project.c:57), 3 times; ...".
func describeLeaks(leaks []allocation) string {
	type group struct {
		site  string
		bytes map[int]bool
		n     int
	}
	bySite := map[string]*group{}
	var order []string
	for _, l := range leaks {
		g, ok := bySite[l.site]
		if !ok {
			g = &group{site: l.site, bytes: map[int]bool{}}
			bySite[l.site] = g
			order = append(order, l.site)
		}
		g.n++
		g.bytes[l.bytes] = true
	}
	sort.Strings(order)
	var parts []string
	for _, s := range order {
		g := bySite[s]
		var sizes []int
		for b := range g.bytes {
			sizes = append(sizes, b)
		}
		sort.Ints(sizes)
		var sz []string
		for _, b := range sizes {
			sz = append(sz, fmt.Sprint(b))
		}
		times := ""
		if g.n > 1 {
			times = fmt.Sprintf(", %d times", g.n)
		}
		parts = append(parts, fmt.Sprintf("%s bytes allocated at %s%s", strings.Join(sz, "/"), g.site, times))
	}
	noun := "allocation was"
	if len(leaks) > 1 {
		noun = "allocations were"
	}
	return fmt.Sprintf("%d %s never freed: %s", len(leaks), noun, strings.Join(parts, "; "))
}
