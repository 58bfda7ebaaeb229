package check

import (
	"errors"
	"fmt"
	"strings"
)

// LoadMessage checks that loading the module logs a message.
type LoadMessage struct {
	// Message is the whole log line, prefix included. Empty means: the
	// lines the reference logs while it loads.
	Message string `yaml:"message"`
}

func (c *LoadMessage) Validate() error { return nil }

func (c *LoadMessage) Plan(p *Plan, id string) { p.Run(LifecycleRun) }

func (c *LoadMessage) Judge(id string, sub, ref *Evidence) Verdict {
	o, why := sub.loaded(LifecycleRun)
	if o == nil {
		return failf("%s", why)
	}
	want := expectedLines(c.Message, ref, InsmodKey(LifecycleRun))
	return findLines(want, moduleLines(o.Kmsg, sub.Module), "after insmod")
}

// ExitMessage checks that unloading the module logs a message, during rmmod.
type ExitMessage struct {
	// Message is the whole log line, prefix included. Empty means: the
	// lines the reference logs while it unloads.
	Message string `yaml:"message"`
}

func (c *ExitMessage) Validate() error { return nil }

func (c *ExitMessage) Plan(p *Plan, id string) { p.Run(LifecycleRun) }

func (c *ExitMessage) Judge(id string, sub, ref *Evidence) Verdict {
	if _, why := sub.loaded(LifecycleRun); why != "" {
		return failf("%s", why)
	}
	o, why := sub.Get(RmmodKey(LifecycleRun))
	if o == nil {
		return failf("%s", why)
	}
	if o.Errno != "" {
		if o.Errno == "EAGAIN" || o.Errno == "EBUSY" {
			return failf("rmmod failed with %s: the module is still in use, so it could not be unloaded "+
				"(a try_module_get or __module_get without its module_put, or a file of the module "+
				"left open?)", o.Errno)
		}
		return failf("rmmod failed with %s (%s): the module could not be unloaded", o.Errno, o.Error)
	}
	want := expectedLines(c.Message, ref, RmmodKey(LifecycleRun))
	v := findLines(want, moduleLines(o.Kmsg, sub.Module), "during rmmod")
	if !v.Passed {
		if ins, _ := sub.Get(InsmodKey(LifecycleRun)); ins != nil {
			if w := findLines(want, ins.Kmsg, ""); w.Passed {
				v.Message += "; it was printed at load time instead, so it does not count: " +
					"print it in the exit function"
			}
		}
	}
	return v
}

// expectedLines returns the literal message, or the lines the reference
// module itself logged during the step.
func expectedLines(literal string, ref *Evidence, key string) []string {
	if literal != "" {
		return []string{literal}
	}
	o, _ := ref.Get(key)
	if o == nil {
		return nil
	}
	return moduleLines(o.Kmsg, ref.Module)
}

// moduleLines drops the lines the kernel's module loader logs about a
// module ("csse332: loading out-of-tree module taints kernel."), keeping
// what the module printed itself.
func moduleLines(lines []string, module string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, module+": ") && (strings.Contains(l, "taints kernel") ||
			strings.Contains(l, "module verification failed")) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// findLines checks that every wanted line is among the logged ones, and
// explains a near miss.
func findLines(want, logged []string, when string) Verdict {
	if len(want) == 0 {
		return failf("the rubric gives no message and the reference logged none %s", when)
	}
	for _, w := range want {
		if err := findLine(w, logged); err != nil {
			return failf("the kernel log has no line %q %s: %v", w, when, err)
		}
	}
	return pass("the kernel log has %s %s", quoteLines(want, 3), when)
}

func findLine(want string, logged []string) error {
	for _, l := range logged {
		if strings.TrimRight(l, " ") == want {
			return nil
		}
	}
	w, text := normalize(want), normalize(stripPrefix(want))
	for _, l := range logged {
		n := normalize(l)
		switch {
		case n == "":
		case n == w:
			return fmt.Errorf("the closest line, %q, differs only in case, spaces or punctuation", l)
		case text != "" && strings.HasSuffix(n, text):
			return fmt.Errorf("the line %q has the text but not the prefix exactly: "+
				"define pr_fmt before the #include lines and use pr_info", l)
		}
	}
	if len(logged) == 0 {
		return errors.New("the module logged nothing")
	}
	return fmt.Errorf("the module logged %s", quoteLines(logged, 3))
}

// stripPrefix drops a "[name]: " prefix.
func stripPrefix(s string) string {
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "]: "); i > 0 {
			return s[i+3:]
		}
	}
	return s
}

func normalize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
