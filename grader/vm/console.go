package vm

import (
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
	ripLine   = regexp.MustCompile(`RIP: [0-9a-f]{4}:(\S+(?: \[\S+\])?)`)
	frameLine = regexp.MustCompile(`^\s*(?:\? )?([A-Za-z_][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+ \[\w+\])`)
)

// maxConsole bounds how much of the console is kept, so that a module that
// floods the kernel log cannot exhaust the host's memory.
const maxConsole = 4 << 20

// Console collects the guest's console and finds reports in it.
type Console struct {
	mu   sync.Mutex
	text strings.Builder
}

// Write takes console output as it arrives. Past maxConsole it drops what
// comes, but says it took it, so that the guest is never held up.
//
// TODO: a module that floods the log before it crashes pushes its crash
// report past the bound, and the report is lost; keep the end of the
// console as well as its start.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	if c.text.Len()+len(p) > maxConsole {
		p = p[:max(maxConsole-c.text.Len(), 0)]
	}
	c.text.Write(p)
	return n, nil
}

// String returns what the console printed so far.
func (c *Console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text.String()
}

// Len returns how many bytes the console printed so far.
func (c *Console) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text.Len()
}

// Reports returns the reports found in the console output after offset.
func (c *Console) Reports(offset int) []Report {
	text := c.String()
	if offset > len(text) {
		offset = len(text)
	}
	return FindReports(text[offset:])
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
	if r.Function != "" {
		s += " in " + r.Function
	}
	if r.ModuleFrame != "" && r.ModuleFrame != r.Function {
		s += ", called from " + r.ModuleFrame
	}
	return s
}
