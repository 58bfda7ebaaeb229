package check

import (
	"fmt"
	"regexp"

	"kmodgrade/grader/step"
)

// Shell runs a shell command in the guest while the module is loaded and
// checks its output and exit status, for what no other kind covers. The
// guest's shell is busybox.
type Shell struct {
	Command string `yaml:"command"`
	// Expect is a regular expression the output (stdout and stderr) must match.
	Expect string `yaml:"expect"`
	// Exit is the exit status the command must end with.
	Exit *int `yaml:"exit"`
	// MatchReference asks for the same output and exit status as the reference.
	MatchReference bool `yaml:"match_reference"`
	// TimeoutSeconds bounds the command; 10 by default.
	TimeoutSeconds int `yaml:"timeout_seconds"`

	expect *regexp.Regexp
}

func (c *Shell) Validate() error {
	if c.Command == "" {
		return fmt.Errorf("command is missing")
	}
	if c.Expect == "" && c.Exit == nil && !c.MatchReference {
		return fmt.Errorf("give expect, exit or match_reference: a shell check must be able to fail")
	}
	if c.TimeoutSeconds < 0 || c.TimeoutSeconds > 300 {
		return fmt.Errorf("timeout_seconds must be between 1 and 300")
	}
	var err error
	c.expect, err = regexp.Compile(c.Expect)
	if err != nil {
		return fmt.Errorf("expect is not a regular expression: %v", err)
	}
	return nil
}

func (c *Shell) timeout() int {
	if c.TimeoutSeconds == 0 {
		return 10
	}
	return c.TimeoutSeconds
}

func (c *Shell) Plan(p *Plan, id string) {
	r := p.Run(id)
	r.Loaded = append(r.Loaded, Step{Key: Key(id, id, "shell"), Step: step.Step{
		Op: step.OpShell, Command: c.Command, MaxBytes: 64 << 10, TimeoutMillis: c.timeout() * 1000}})
}

func (c *Shell) Judge(id string, sub, ref *Evidence) Verdict {
	if _, why := sub.loaded(id); why != "" {
		return failf("%s", why)
	}
	o, why := sub.Get(Key(id, id, "shell"))
	if o == nil {
		return failf("%s", why)
	}
	if o.Error != "" {
		return failf("running %q: %s", c.Command, o.Error)
	}
	if c.Exit != nil && o.Exit != *c.Exit {
		return failf("%q exited %d, not %d; it printed %s", c.Command, o.Exit, *c.Exit, quoteBytes(o.Output))
	}
	if c.MatchReference {
		r, _ := ref.Get(Key(id, id, "shell"))
		if r == nil {
			return failf("the reference's output of %q is missing", c.Command)
		}
		if string(r.Output) != string(o.Output) || r.Exit != o.Exit {
			return failf("%q printed %s (exit %d); the reference printed %s (exit %d)", c.Command,
				quoteBytes(o.Output), o.Exit, quoteBytes(r.Output), r.Exit)
		}
	}
	if c.Expect != "" && c.expect == nil {
		c.expect = regexp.MustCompile(c.Expect) // Validate has checked it
	}
	if c.Expect != "" && !c.expect.Match(o.Output) {
		return failf("the output of %q, %s, does not match %q", c.Command, quoteBytes(o.Output), c.Expect)
	}
	return pass("%q gave the expected output", c.Command)
}
