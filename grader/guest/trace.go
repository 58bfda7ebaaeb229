//go:build linux

package guest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"kmodgrade/grader/step"
)

// tracefs is the tracing folder the agent uses: tracefs itself in a guest,
// a tracing instance of the agent's own on the grader's machine (Local).
var tracefs = "/sys/kernel/tracing"

var kmemEvents = []string{"kmalloc", "kfree"}

// bufferKB is the trace buffer of each CPU: far more than a module's runs log.
const bufferKB = "8192"

func traceWrite(name, value string) error {
	return os.WriteFile(filepath.Join(tracefs, name), []byte(value), 0)
}

// traceSetup sizes the trace buffer and turns the kmalloc and kfree
// tracepoints on, with tracing itself off; the agent does it once, at boot.
// Turning a tracepoint on or off patches the kernel's code, which QEMU's
// TCG pays for by translating the code again: done once, before the guest
// is saved, no run pays for it. With tracing off, the events are dropped.
func traceSetup() error {
	settings := [][2]string{{"tracing_on", "0"}}
	// Resizing the buffer is slow too.
	if b, _ := os.ReadFile(filepath.Join(tracefs, "buffer_size_kb")); strings.TrimSpace(string(b)) != bufferKB {
		settings = append(settings, [2]string{"buffer_size_kb", bufferKB})
	}
	for _, ev := range kmemEvents {
		enable := "events/kmem/" + ev + "/enable"
		if b, _ := os.ReadFile(filepath.Join(tracefs, enable)); strings.TrimSpace(string(b)) != "1" {
			settings = append(settings, [2]string{enable, "1"})
		}
	}
	if len(settings) > 1 {
		// What was traced before is not the module's. Emptying the buffer
		// waits for an RCU grace period, so the runs do not: they consume
		// what they read from trace_pipe instead.
		settings = append(settings, [2]string{"trace", ""})
	}
	for _, s := range settings {
		if err := traceWrite(s[0], s[1]); err != nil {
			return fmt.Errorf("write %s: %w", s[0], err)
		}
	}
	traceReady = true
	return nil
}

// traceReady says that traceSetup has run (at boot, before the guest was
// saved): a run need not read the settings again, which costs tens of
// milliseconds under TCG.
var traceReady bool

// traceStart turns tracing on; the buffer is empty, as the last traceStop
// consumed it.
func traceStart(o *step.Observation) {
	if !traceReady {
		if err := traceSetup(); err != nil {
			fail(o, "set up tracing", err)
			return
		}
	}
	if err := traceWrite("tracing_on", "1"); err != nil {
		fail(o, "write tracing_on", err)
	}
}

// readPipe consumes the trace buffer through trace_pipe until it is empty.
// It reads the file descriptor itself: Go's own file reads would wait for
// more events instead of returning when there are none.
func readPipe() ([]byte, error) {
	fd, err := unix.Open(filepath.Join(tracefs, "trace_pipe"), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EAGAIN || n == 0 && err == nil:
			return out, nil
		case err == unix.EINTR:
			continue
		case err != nil:
			return out, err
		}
		out = append(out, buf[:n]...)
	}
}

// traceStop turns tracing off and reports the events that may concern the
// module: allocations whose call site is not a symbol of the core
// kernel (an unloaded module's addresses print bare), frees from such call
// sites, and every event on a pointer that such an allocation returned, so
// that the host can pair allocations with frees in order.
func traceStop(s *step.Step, o *step.Observation) {
	traceWrite("tracing_on", "0")
	trace, err := readPipe()
	if err != nil {
		fail(o, "read trace_pipe", err)
		return
	}

	var events []step.MemEvent
	ptrs := map[string]bool{}
	for _, line := range strings.Split(string(trace), "\n") {
		ev, ok := parseTraceLine(line, s.Module)
		if !ok {
			continue
		}
		fromModule := ev.CallSite != 0 || ev.Caller != ""
		if fromModule && ev.Kind == "kmalloc" {
			ptrs[ev.Ptr] = true
		}
		if fromModule || ptrs[ev.Ptr] {
			events = append(events, ev)
		}
	}
	o.Events = events
	o.Overrun = overrun()
}

// parseTraceLine reads a line such as
//
//	insmod-83 [000] ..... 2.36: kmalloc: call_site=0xffffffffc025c027 ptr=000000009fcf68dc bytes_req=40 ...
//
// The call site is kept as an address when it printed bare, and as Caller
// when it printed as a symbol of the module (the module is still loaded);
// the core kernel's own symbols leave both empty.
func parseTraceLine(line, module string) (step.MemEvent, bool) {
	var ev step.MemEvent
	for _, kind := range kmemEvents {
		if i := strings.Index(line, " "+kind+": "); i >= 0 {
			ev.Kind = kind
			line = line[i+len(kind)+3:]
			break
		}
	}
	if ev.Kind == "" {
		return ev, false
	}
	site, rest := field(line, "call_site=")
	if strings.HasPrefix(site, "0x") {
		ev.CallSite, _ = strconv.ParseUint(site[2:], 16, 64)
	} else if module != "" && strings.HasSuffix(site, " ["+module+"]") {
		ev.Caller = strings.TrimSuffix(site, " ["+module+"]")
	}
	ev.Ptr, _ = field(rest, "ptr=")
	if b, _ := field(rest, "bytes_req="); b != "" {
		ev.Bytes, _ = strconv.Atoi(b)
	}
	return ev, ev.Ptr != ""
}

// field returns the value after key, up to the next " name=" or the end,
// and the text after it. Symbols such as "f+0x1/0x2 [mod]" hold a space.
func field(s, key string) (string, string) {
	i := strings.Index(s, key)
	if i < 0 {
		return "", s
	}
	s = s[i+len(key):]
	end := len(s)
	for j := 0; j < len(s); j++ {
		if s[j] != ' ' {
			continue
		}
		next := s[j+1:]
		if k := strings.IndexAny(next, " ="); k > 0 && next[k] == '=' {
			end = j
			break
		}
	}
	return s[:end], s[end:]
}

// overrun reports whether the trace buffer dropped events on any CPU.
func overrun() bool {
	stats, _ := filepath.Glob(filepath.Join(tracefs, "per_cpu/cpu*/stats"))
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "overrun: "); ok && strings.TrimSpace(v) != "0" {
				return true
			}
		}
	}
	return false
}
