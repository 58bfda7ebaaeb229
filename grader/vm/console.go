package vm

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Report is a kernel crash or warning found on the guest's console.
type Report struct {
	// Title is the report's first line, such as
	// "BUG: kernel NULL pointer dereference, address: 0000000000000000".
	Title string
	// Function is where the kernel was when it happened, from the RIP line,
	// such as "memcpy_erms+0x6/0x10"; empty if none was printed.
	Function string
	// ModuleFrame is the first frame of the call trace (or the RIP) that is
	// in a module, such as "csse332_read+0xb1/0xc9 [project]": where the
	// student's code was.
	ModuleFrame string
	// Text is the report as printed, bounded in length.
	Text string
}

// reportStarts are the first lines of the kernel reports that mean the guest
// can no longer be trusted. They are matched after the "[  1.23] " timestamp.
var reportStarts = regexp.MustCompile(`^(` + strings.Join([]string{
	`BUG: `,
	`BUG [\w.-]+ \((?:Not tainted|Tainted: [^)]*)\): `, // slub_debug: "BUG kmalloc-16 (Tainted: G): Poison overwritten"
	`kernel BUG at `,
	`Oops: `,
	`general protection fault`,
	`WARNING: `,
	`Kernel panic - not syncing`,
	`watchdog: BUG: soft lockup`,
	`INFO: task .* blocked for more than`,
	`rcu: INFO: .*detected stall`,
	`UBSAN: `,
	`list_(add|del) corruption`,
	`refcount_t: `,
}, "|") + `)`)

var (
	timestamp = regexp.MustCompile(`^\[\s*\d+\.\d+\]\s?`)
	// Only the kernel's code segment: a report also shows the user-space
	// RIP of the task that was running (RIP: 0033:0x487339).
	ripLine   = regexp.MustCompile(`RIP: 0010:(\S+(?: \[\S+\])?)`)
	frameLine = regexp.MustCompile(`^\s*(?:\? )?([A-Za-z_][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+ \[\w+\])`)
)

// The console keeps its first consoleHead bytes and its last consoleTail
// bytes, so that a module that floods the kernel log can neither exhaust
// the host's memory nor push its own crash report out of sight: what a
// crash prints comes last.
const (
	consoleHead = 1 << 20
	consoleTail = 1 << 20
)

// Console collects the guest's console and finds reports in it. Positions
// in it count every byte the guest printed, kept or not.
type Console struct {
	mu    sync.Mutex
	head  []byte
	tail  []byte // the latest bytes past the head, at most 2*consoleTail
	total int    // bytes printed so far
}

// Write takes console output as it arrives; it never fails, so that the
// guest is never held up.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.total += n
	if room := consoleHead - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	if len(p) >= consoleTail {
		c.tail = append(c.tail[:0], p[len(p)-consoleTail:]...)
		return n, nil
	}
	c.tail = append(c.tail, p...)
	if len(c.tail) > 2*consoleTail {
		// Slide down now and then rather than on every write.
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-consoleTail:]...)
	}
	return n, nil
}

// String returns what the console printed so far, with a line in place of
// what was left out in the middle of a flood.
func (c *Console) String() string { return c.Since(0) }

// Len returns how many bytes the console printed so far: a position for
// Since and Reports.
func (c *Console) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Since returns what the console printed from position offset on, as far
// as it was kept.
func (c *Console) Since(offset int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	offset = max(min(offset, c.total), 0)
	kept := c.tail[max(len(c.tail)-consoleTail, 0):]
	tailStart := c.total - len(kept)
	var b strings.Builder
	if offset < len(c.head) {
		b.Write(c.head[offset:])
	}
	if lost := tailStart - max(offset, len(c.head)); lost > 0 {
		fmt.Fprintf(&b, "\n[... %d bytes of console output left out ...]\n", lost)
	}
	b.Write(kept[max(offset-tailStart, 0):])
	return b.String()
}

// Reports returns the reports found in the console output after offset.
func (c *Console) Reports(offset int) []Report {
	return FindReports(c.Since(offset))
}

// FindReports returns the kernel reports in console text, in order.
func FindReports(text string) []Report {
	lines := strings.Split(strings.ReplaceAll(text, "\r", ""), "\n")
	var reports []Report
	for i := 0; i < len(lines); i++ {
		line := timestamp.ReplaceAllString(lines[i], "")
		if !reportStarts.MatchString(line) {
			continue
		}
		r := Report{Title: strings.TrimSpace(line)}
		end := min(i+60, len(lines))
		var body []string
		for j := i; j < end; j++ {
			l := timestamp.ReplaceAllString(lines[j], "")
			// "Oops: 0002 [#1]" continues a "BUG: unable to handle page fault" report.
			next := reportStarts.MatchString(l) && !strings.HasPrefix(l, "Oops: ")
			if j > i && (next || strings.HasPrefix(l, "---[ end trace")) {
				end = j
				break
			}
			body = append(body, l)
			if m := ripLine.FindStringSubmatch(l); m != nil && r.Function == "" {
				r.Function = m[1]
				if strings.HasSuffix(m[1], "]") && r.ModuleFrame == "" {
					r.ModuleFrame = m[1]
				}
			}
			if m := frameLine.FindStringSubmatch(l); m != nil && r.ModuleFrame == "" &&
				!strings.HasPrefix(strings.TrimSpace(l), "?") {
				r.ModuleFrame = m[1]
			}
		}
		r.Text = strings.Join(body, "\n")
		reports = append(reports, r)
		i = end - 1
	}
	return reports
}

// Summary is a one-line description of a report for a student: the title,
// the function it happened in and, if that is not the module's own, the
// module's function that led there.
func (r Report) Summary() string {
	s := r.Title
	switch {
	case r.Function != "" && strings.HasPrefix(r.ModuleFrame, r.Function):
		// The module's own function, perhaps with its file and line added.
		return s + " in " + r.ModuleFrame
	case r.Function != "":
		s += " in " + r.Function
	}
	if r.ModuleFrame != "" {
		s += ", called from " + r.ModuleFrame
	}
	return s
}
