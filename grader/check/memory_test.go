package check

import (
	"strings"
	"testing"

	"kmodgrade/grader/step"
)

// The call sites the kernel prints for the module's kmalloc and kfree.
const (
	inWrite = "csse332_write+0x4a/0x120"
	inInit  = "csse332_init+0x2c/0x90"
	inExit  = "csse332_exit+0x11/0x40"
)

func kmalloc(ptr, caller string, bytes int) step.MemEvent {
	return step.MemEvent{Kind: "kmalloc", Ptr: ptr, Caller: caller, Bytes: bytes}
}

func kfree(ptr, caller string) step.MemEvent {
	return step.MemEvent{Kind: "kfree", Ptr: ptr, Caller: caller}
}

// traced is one run as the memory check sees it.
type traced struct {
	failure string // the run stopped early
	errno   string // insmod failed
	overrun bool
	events  []step.MemEvent
}

func memoryEvidence(runs map[string]traced) *Evidence {
	e := newEvidence()
	for name, r := range runs {
		e.Runs[name] = &RunRecord{Name: name, Failure: r.failure}
		e.Obs[InsmodKey(name)] = &step.Observation{Op: step.OpInsmod, Errno: r.errno}
		if r.failure == "" {
			e.Obs[TraceKey(name)] = &step.Observation{Op: step.OpTraceStop, Events: r.events,
				Overrun: r.overrun}
		}
	}
	return e
}

func TestMemory(t *testing.T) {
	// The array, allocated at load and freed at unload.
	array := []step.MemEvent{kmalloc("a1", inInit, 40), kfree("a1", inExit)}
	// A command buffer per write, freed before the write returns.
	buffers := []step.MemEvent{
		kmalloc("b1", inWrite, 6), kfree("b1", inWrite),
		kmalloc("b1", inWrite, 6), kfree("b1", inWrite),
	}
	// The kernel's own allocations, interleaved: not the module's.
	kernel := []step.MemEvent{kmalloc("k1", "", 64), kfree("k2", "")}
	concat := func(parts ...[]step.MemEvent) []step.MemEvent {
		var all []step.MemEvent
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}

	tests := []struct {
		name   string
		min    int
		runs   map[string]traced
		passed bool
		phrase string
	}{
		{
			name: "no leak",
			min:  1,
			runs: map[string]traced{
				"lifecycle":       {events: concat(kernel, array)},
				"write-in-bounds": {events: concat(array[:1], buffers, kernel, array[1:])},
			},
			passed: true,
			phrase: "all 4 allocations were freed once",
		},
		{
			name: "a leak in the write handler",
			runs: map[string]traced{
				"lifecycle": {events: array},
				"write-in-bounds": {events: []step.MemEvent{
					kmalloc("b1", inWrite, 6), kmalloc("b2", inWrite, 8), kmalloc("b3", inWrite, 6),
				}},
			},
			phrase: "3 allocations were never freed: 6/8 bytes allocated at csse332_write+0x4a/0x120, 3 times",
		},
		{
			name: "one leak",
			runs: map[string]traced{
				"lifecycle": {events: array[:1]},
			},
			phrase: "1 allocation was never freed: 40 bytes allocated at csse332_init+0x2c/0x90",
		},
		{
			name: "a double free",
			runs: map[string]traced{
				"lifecycle": {events: concat(array, []step.MemEvent{kfree("a1", inExit)})},
			},
			phrase: "kfree was called twice on the same allocation: memory allocated at " +
				"csse332_init+0x2c/0x90 freed again at csse332_exit+0x11/0x40",
		},
		{
			name: "the kernel reuses a freed address",
			runs: map[string]traced{
				"lifecycle": {events: concat(array,
					[]step.MemEvent{kmalloc("a1", "", 40), kfree("a1", "")})},
			},
			passed: true,
			phrase: "all 1 allocations were freed once",
		},
		{
			name: "a run that failed is not covered",
			runs: map[string]traced{
				"lifecycle":   {events: array},
				"read-oops":   {failure: "the kernel crashed while reading /proc/csse332/status"},
				"read-broken": {failure: "the guest hung while reading /proc/csse332/status"},
			},
			passed: true,
			phrase: "all 1 allocations were freed once (checked in 1 of 3 runs; not in read-broken, read-oops, which did not finish)",
		},
		{
			name: "the runs that allocate did not finish",
			runs: map[string]traced{
				"lifecycle":       {},
				"write-in-bounds": {failure: "the kernel was tainted (flags B) while writing"},
			},
			min: 1,
			phrase: "the module's memory use could not be checked: the runs that finished made 0 kmalloc " +
				"calls where at least 1 are expected, and write-in-bounds did not finish",
		},
		{
			name: "no run finished",
			runs: map[string]traced{
				"lifecycle": {failure: "the kernel crashed while loading the module"},
			},
			phrase: "no run of the module finished, so its memory use could not be checked",
		},
		{
			name: "never loaded",
			runs: map[string]traced{
				"lifecycle": {errno: "ENOMEM", events: array[:1]},
			},
			phrase: "the module never loaded, so its memory use could not be checked",
		},
		{
			name: "min_allocations not met",
			min:  1,
			runs: map[string]traced{
				"lifecycle": {events: kernel},
			},
			phrase: "the module made 0 kmalloc calls, and the assignment asks for at least 1",
		},
		{
			name: "trace overrun",
			runs: map[string]traced{
				"lifecycle": {events: array, overrun: true},
			},
			passed: true,
			phrase: "the kernel's trace buffer overflowed, so some events may be missing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Memory{MinAllocations: tt.min}
			v := c.Judge("memory", memoryEvidence(tt.runs), memoryEvidence(nil))
			if v.Passed != tt.passed || !strings.Contains(v.Message, tt.phrase) {
				t.Errorf("Judge() = %v %q\nwant %v and %q",
					v.Passed, v.Message, tt.passed, tt.phrase)
			}
		})
	}
}

func TestAttribute(t *testing.T) {
	sections := &step.Observation{Sections: map[string]uint64{".text": 0xffffffffc0200000}}
	tests := []struct {
		name string
		ev   step.MemEvent
		site string
		mine bool
	}{
		{"symbol of the module", step.MemEvent{Caller: inWrite}, inWrite, true},
		{"kernel's own", step.MemEvent{}, "", false},
		{"address, no .ko", step.MemEvent{CallSite: 0xffffffffc0200040}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site, mine := attribute(tt.ev, sections, nil)
			if site != tt.site || mine != tt.mine {
				t.Errorf("attribute() = %q, %v; want %q, %v", site, mine, tt.site, tt.mine)
			}
		})
	}
}
