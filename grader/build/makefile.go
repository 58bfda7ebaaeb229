package build

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Spec is what kbuild needs to know about a module: its name and the object
// files it links. It comes from the submission's Makefile or Kbuild file,
// which is read, never run.
type Spec struct {
	// Module is the module's name, as in obj-m := <Module>.o.
	Module string
	// Objects are the object files the module is linked from, such as
	// "main.o" and "proc.o"; for a one-file module, just "<Module>.o".
	Objects []string
	// From names the file the Spec was read from, or says it was inferred.
	From string
}

var (
	assignment = regexp.MustCompile(`^([A-Za-z_$][A-Za-z0-9_.${}()-]*)\s*(\+=|::?=|\?=|=)\s*(.*)$`)
	variableRe = regexp.MustCompile(`\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]`)
)

// FindSpec reads the Kbuild file or Makefile of the submission in dir. With
// neither, a folder holding a single .c file builds that file as a module
// of the same name.
func FindSpec(dir string) (*Spec, error) {
	for _, name := range []string{"Kbuild", "Makefile", "makefile", "GNUmakefile"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		spec, err := ParseMakefile(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		spec.From = name
		return spec, nil
	}
	sources, _ := filepath.Glob(filepath.Join(dir, "*.c"))
	if len(sources) == 1 {
		mod := strings.TrimSuffix(filepath.Base(sources[0]), ".c")
		return &Spec{Module: mod, Objects: []string{mod + ".o"},
			From: "no Makefile: built " + filepath.Base(sources[0]) + " alone"}, nil
	}
	return nil, fmt.Errorf("no Makefile or Kbuild file with an obj-m line, and %d .c files "+
		"to choose from: add a Makefile with obj-m += <module>.o", len(sources))
}

// ParseMakefile finds the module and its objects in a kbuild Makefile: the
// obj-m line and, for a module of several files, its <name>-objs or <name>-y
// line. Simple variables (NAME := value) are expanded; anything that would
// need make to run (functions, conditionals) is not understood.
func ParseMakefile(text string) (*Spec, error) {
	vars := map[string]string{}
	lists := map[string][]string{}
	for _, line := range logicalLines(text) {
		m := assignment.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		name, op, value := expand(m[1], vars), m[2], expand(m[3], vars)
		switch {
		case name == "obj-m" || strings.HasPrefix(name, "obj-$("):
			name = "obj-m"
		case strings.HasSuffix(name, "-objs") || strings.HasSuffix(name, "-y"):
		default:
			if op == "+=" {
				vars[name] = strings.TrimSpace(vars[name] + " " + value)
			} else if op != "?=" || vars[name] == "" {
				vars[name] = value
			}
			continue
		}
		if op != "+=" {
			lists[name] = nil
		}
		lists[name] = append(lists[name], strings.Fields(value)...)
	}

	mods := lists["obj-m"]
	for _, m := range mods {
		if strings.Contains(m, "$") {
			return nil, fmt.Errorf("obj-m holds %q, which needs make to run: name the module plainly, "+
				"as in obj-m += <module>.o", strings.Join(mods, " "))
		}
	}
	switch {
	case len(mods) == 0:
		return nil, fmt.Errorf("no obj-m line names the module (obj-m += <module>.o)")
	case len(mods) > 1:
		return nil, fmt.Errorf("obj-m names %d modules (%s); the grader loads one", len(mods),
			strings.Join(mods, " "))
	}
	mod := mods[0]
	if strings.Contains(mod, "$") || !strings.HasSuffix(mod, ".o") {
		return nil, fmt.Errorf("obj-m names %q, which is not a plain <module>.o", mod)
	}
	name := strings.TrimSuffix(mod, ".o")
	objs := append(lists[name+"-objs"], lists[name+"-y"]...)
	if len(objs) == 0 {
		objs = []string{mod}
	}
	for _, o := range objs {
		if strings.Contains(o, "$") || !strings.HasSuffix(o, ".o") || strings.Contains(o, "..") ||
			strings.HasPrefix(o, "/") {
			return nil, fmt.Errorf("%s lists %q, which is not a plain object file (<file>.o)", name, o)
		}
	}
	return &Spec{Module: name, Objects: dedupe(objs)}, nil
}

// logicalLines joins continued lines and drops comments and recipe lines.
func logicalLines(text string) []string {
	text = strings.ReplaceAll(text, "\\\r\n", " ")
	text = strings.ReplaceAll(text, "\\\n", " ")
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "\t") {
			continue // a recipe: a command make would run
		}
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func expand(s string, vars map[string]string) string {
	for i := 0; i < 8 && variableRe.MatchString(s); i++ {
		s = variableRe.ReplaceAllStringFunc(s, func(ref string) string {
			name := variableRe.FindStringSubmatch(ref)[1]
			if v, ok := vars[name]; ok {
				return v
			}
			return ref
		})
	}
	return strings.TrimSpace(s)
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Kbuild returns the Kbuild file the grader writes in place of the
// submission's own.
func (s *Spec) Kbuild() string {
	var b strings.Builder
	fmt.Fprintf(&b, "obj-m := %s.o\n", s.Module)
	if len(s.Objects) != 1 || s.Objects[0] != s.Module+".o" {
		fmt.Fprintf(&b, "%s-y := %s\n", s.Module, strings.Join(s.Objects, " "))
	}
	return b.String()
}
