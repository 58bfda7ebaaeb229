package build

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
)

// Job is one submission to build along with others.
type Job struct {
	ID  string
	Src string
}

// Outcome is what building one Job gave: a Module, or an error as Build
// returns it.
type Outcome struct {
	Module *Module
	Err    error
}

// maxGroup bounds how many modules one run of make builds; a group of
// fewer than minGroup is not worth it (make's own start-up is most of a
// small build), and its submissions are left to be built alone.
const (
	maxGroup = 64
	minGroup = 4
)

// BuildAll builds many submissions with few runs of kbuild. Kbuild refuses
// two modules of one name in a run, and most students keep the name the
// assignment gives, so each module whose name is long enough is built under
// an alias of the same length, unique in its run, and the alias is then
// replaced by the module's own name in the built .ko: every place kbuild
// wrote it (the module's name in struct module and .modinfo, KBUILD_MODNAME
// in the module's strings, the symbols named after it) reads as if the
// module had been built alone, at the same offsets. A module with a shorter
// name (where an alias could too easily match other bytes by chance) is
// built under its own name, in a run with no other module of that name.
//
// Each submission is in a folder of its own under a random name, so that
// no submission can name another's files. A submission that does not build
// with the others is built again alone (as many at once as there are
// cores), so that its result and its compiler output are exactly what Build
// gives.
//
// Only groups of at least minGroup are built this way; the outcomes of the
// other submissions are not in the map, and the caller builds them alone.
func BuildAll(ctx context.Context, cfg *Config, jobs []Job, scratch string) map[string]Outcome {
	out := map[string]Outcome{}
	var specs []*Spec
	var groups [][]int // indices into jobs
	for i, j := range jobs {
		spec, err := FindSpec(j.Src)
		specs = append(specs, spec)
		if err != nil {
			continue // built alone, where the error is reported as Build reports it
		}
		gi := place(groups, specs, spec)
		if gi == len(groups) {
			groups = append(groups, nil)
		}
		groups[gi] = append(groups[gi], i)
	}

	var members [][]*member
	var dirs []string
	for _, g := range groups {
		if len(g) < minGroup {
			continue
		}
		dir := groupDir(scratch, len(members))
		var ms []*member
		for _, i := range g {
			j := jobs[i]
			m := &member{job: j, name: randomName()}
			m.dir = filepath.Join(dir, m.name)
			if aliased(specs[i]) {
				m.alias = newAlias(len(specs[i].Module))
			}
			spec, err := prepare(cfg, j.Src, m.dir, sandboxDir+"/"+m.name, m.alias)
			if err != nil {
				continue // built alone
			}
			m.spec = spec
			ms = append(ms, m)
		}
		members = append(members, ms)
		dirs = append(dirs, dir)
	}

	var alone []Job
	for gi, g := range members {
		if ctx.Err() != nil {
			break
		}
		buildGroup(ctx, cfg, dirs[gi], g)
		for _, m := range g {
			if !m.failed && m.alias != "" {
				m.failed = unalias(m) != nil
			}
			if mod, err := finish(cfg, m.spec, m.dir, m.output, nil); err == nil && !m.failed {
				out[m.job.ID] = Outcome{Module: mod}
			} else {
				alone = append(alone, m.job)
			}
		}
	}
	// Builds alone are one compiler each: as many at once as there are cores.
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for _, j := range alone {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			mod, err := Build(ctx, cfg, j.Src, filepath.Join(scratch, "alone", randomName()))
			mu.Lock()
			out[j.ID] = Outcome{Module: mod, Err: err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// member is a submission prepared in a group's folder.
type member struct {
	job    Job
	spec   *Spec
	name   string // its folder in the group, random
	dir    string // that folder on the host
	output string // its part of make's output
	failed bool   // it needs a build of its own
	alias  string // the name it is built under, if not its own
}

// minAlias is the shortest module name built under an alias. A random
// alias of seven letters, digits and underscores could match a run of
// bytes of a 100 KB module by chance (and that run would be replaced too)
// about once in thirty million modules; with fewer characters, too often.
const minAlias = 7

// aliased says whether a module is built under an alias. A name with a dash
// is not: kbuild writes it with an underscore in most places but with the
// dash in some, which an alias of one spelling cannot give back.
func aliased(spec *Spec) bool {
	return len(spec.Module) >= minAlias && !strings.Contains(spec.Module, "-")
}

const aliasChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

// newAlias returns a random module name of n characters, starting with a
// letter (it also becomes part of a C identifier).
func newAlias(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		chars := aliasChars
		if i == 0 {
			chars = aliasChars[:52]
		}
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// unalias gives a member built under an alias its own name back: in the
// .ko, renamed to the module's own file name, and in its compiler output.
func unalias(m *member) error {
	own := m.spec.Module
	m.output = strings.ReplaceAll(m.output, m.alias, m.spec.Module)
	b, err := os.ReadFile(filepath.Join(m.dir, m.alias+".ko"))
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(m.alias)) {
		return fmt.Errorf("%s.ko does not hold its name", m.alias)
	}
	b = bytes.ReplaceAll(b, []byte(m.alias), []byte(own))
	return os.WriteFile(filepath.Join(m.dir, m.spec.Module+".ko"), b, 0o644)
}

func groupDir(scratch string, i int) string {
	return filepath.Join(scratch, fmt.Sprintf("group%d", i))
}

// place returns the first group with room and, unless spec's module is
// built under an alias, no module of its name built under its own; or
// len(groups) for a new one.
func place(groups [][]int, specs []*Spec, spec *Spec) int {
	for i, g := range groups {
		if len(g) >= maxGroup {
			continue
		}
		clash := false
		for _, o := range g {
			clash = clash || !aliased(spec) && specs[o].Module == spec.Module
		}
		if !clash {
			return i
		}
	}
	return len(groups)
}

// memberPath finds a member's folder in a line of make's output.
var memberPath = regexp.MustCompile(regexp.QuoteMeta(sandboxDir) + `/([0-9a-f]{32})/`)

// buildGroup runs make over a group. A compile error stops kbuild before it
// links any module, so members that failed are left out and make runs
// again for the rest; what it already compiled is not compiled again.
func buildGroup(ctx context.Context, cfg *Config, dir string, g []*member) {
	for pass := 0; pass < 2; pass++ {
		var names []string
		for _, m := range g {
			if !m.failed {
				names = append(names, m.name+"/")
			}
		}
		if len(names) == 0 {
			return
		}
		kbuild := "obj-m += " + strings.Join(names, " ") + "\n"
		if err := os.WriteFile(filepath.Join(dir, "Kbuild"), []byte(kbuild), 0o644); err != nil {
			for _, m := range g {
				m.failed = true
			}
			return
		}
		out, err := run(ctx, cfg, dir, true)
		parts, bad := splitOutput(out)
		for _, m := range g {
			if !m.failed {
				m.output = tidyOutput(parts[m.name], sandboxDir+"/"+m.name+"/")
				m.failed = bad[m.name]
			}
		}
		if err == nil || len(bad) == 0 {
			return
		}
	}
}

// splitOutput gives each member the lines of make's output about it: the
// lines that name its folder and those that follow them (a compiler
// message's source excerpt). It also says which members had an error, or
// use a symbol no module exports.
func splitOutput(out string) (map[string]string, map[string]bool) {
	parts := map[string][]string{}
	bad := map[string]bool{}
	owner := ""
	for _, l := range strings.Split(out, "\n") {
		if m := memberPath.FindStringSubmatch(l); m != nil {
			owner = m[1]
			if strings.Contains(l, " error: ") || strings.Contains(l, "] Error ") ||
				strings.Contains(l, "undefined!") || strings.Contains(l, "fatal error") {
				bad[owner] = true
			}
		}
		if owner != "" {
			parts[owner] = append(parts[owner], l)
		}
	}
	joined := map[string]string{}
	for k, v := range parts {
		joined[k] = strings.Join(v, "\n")
	}
	return joined, bad
}

func randomName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
