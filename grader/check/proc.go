package check

import (
	"fmt"
	"strconv"

	"kmodgrade/grader/step"
)

// ProcEntry checks a /proc directory and the file in it: there while the
// module is loaded, with the right mode, and gone after rmmod.
type ProcEntry struct {
	Dir  string `yaml:"dir"`
	File string `yaml:"file"`
	// Mode is the file's permission bits in octal, such as "0666". Empty
	// means: the mode the reference gives it.
	Mode string `yaml:"mode"`
}

func (c *ProcEntry) Validate() error {
	if c.Dir == "" || c.File == "" {
		return fmt.Errorf("proc_entry needs dir and file")
	}
	if c.Mode != "" {
		if _, err := strconv.ParseUint(c.Mode, 8, 32); err != nil {
			return fmt.Errorf("mode %q is not an octal number such as \"0666\"", c.Mode)
		}
	}
	return nil
}

func (c *ProcEntry) Plan(p *Plan, id string) {
	r := p.Run(LifecycleRun)
	r.Loaded = append(r.Loaded,
		Step{Key: Key(LifecycleRun, id, "dir"), Step: step.Step{Op: step.OpStat, Path: c.Dir}},
		Step{Key: Key(LifecycleRun, id, "file"), Step: step.Step{Op: step.OpStat, Path: c.File}})
	r.Unloaded = append(r.Unloaded,
		Step{Key: Key(LifecycleRun, id, "file-after"), Step: step.Step{Op: step.OpStat, Path: c.File}},
		Step{Key: Key(LifecycleRun, id, "dir-after"), Step: step.Step{Op: step.OpStat, Path: c.Dir}})
}

func (c *ProcEntry) Judge(id string, sub, ref *Evidence) Verdict {
	if _, why := sub.loaded(LifecycleRun); why != "" {
		return failf("%s", why)
	}
	st := func(e *Evidence, name string) (*step.Stat, string) {
		o, why := e.Get(Key(LifecycleRun, id, name))
		if o == nil {
			return nil, why
		}
		return o.Stat, ""
	}

	dir, why := st(sub, "dir")
	if dir == nil {
		return failf("%s", why)
	}
	if !dir.Exists || !dir.Dir {
		return failf("while the module is loaded, %s is not a directory: create it with proc_mkdir", c.Dir)
	}
	file, why := st(sub, "file")
	if file == nil {
		return failf("%s", why)
	}
	if !file.Exists || file.Dir {
		return failf("while the module is loaded, %s is not a file: create it with proc_create", c.File)
	}
	want, err := c.mode(ref, id)
	if err != "" {
		return failf("%s", err)
	}
	if file.Mode != want {
		return failf("%s has mode %04o; it should be %04o (the mode argument of proc_create)",
			c.File, file.Mode, want)
	}

	if _, why := sub.Get(RmmodKey(LifecycleRun)); why != "" {
		return failf("%s", why)
	}
	for _, name := range []string{"file-after", "dir-after"} {
		s, why := st(sub, name)
		if s == nil {
			return failf("%s", why)
		}
		if s.Exists {
			path := c.File
			if name == "dir-after" {
				path = c.Dir
			}
			return failf("%s is still there after rmmod: remove it in the exit function "+
				"(remove_proc_entry or proc_remove)", path)
		}
	}
	return pass("%s and %s (mode %04o) are there while loaded and gone after rmmod", c.Dir, c.File, want)
}

// mode is the literal mode, or the one the reference gave its file.
func (c *ProcEntry) mode(ref *Evidence, id string) (uint32, string) {
	if c.Mode != "" {
		m, _ := strconv.ParseUint(c.Mode, 8, 32)
		return uint32(m), ""
	}
	o, _ := ref.Get(Key(LifecycleRun, id, "file"))
	if o == nil || o.Stat == nil || !o.Stat.Exists {
		return 0, "the rubric gives no mode and the reference has no " + c.File
	}
	return o.Stat.Mode, ""
}
