// Package kmod reads a built kernel module (.ko): its sections, and where an
// address inside it comes from in the source.
package kmod

import (
	"debug/elf"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// File is a kernel module file opened for lookups.
type File struct {
	Path     string
	Sections map[string]uint64 // size of each allocated section
	Code     []string          // the allocated sections that hold code
	symbols  []elf.Symbol
	names    []string // section name by index

	mu       sync.Mutex
	resolved map[Place]Location // addr2line is slow: each place is looked up once
}

// Open reads the sections and symbols of the module at path.
func Open(path string) (*File, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read module %s: %w", path, err)
	}
	defer f.Close()
	k := &File{Path: path, Sections: map[string]uint64{}}
	for _, s := range f.Sections {
		k.names = append(k.names, s.Name)
		if s.Flags&elf.SHF_ALLOC != 0 {
			k.Sections[s.Name] = s.Size
			if s.Flags&elf.SHF_EXECINSTR != 0 {
				k.Code = append(k.Code, s.Name)
			}
		}
	}
	syms, err := f.Symbols()
	if err == nil {
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
				k.symbols = append(k.symbols, s)
			}
		}
	}
	sort.Slice(k.symbols, func(i, j int) bool { return k.symbols[i].Value < k.symbols[j].Value })
	return k, nil
}

// Place is an address inside a loaded module: which section, and how far in.
type Place struct {
	Section string
	Offset  uint64
}

// Locate finds the section of the loaded module that holds addr, given the
// sections' load addresses as the kernel reported them.
func (k *File) Locate(addr uint64, loaded map[string]uint64) (Place, bool) {
	for name, base := range loaded {
		size, ok := k.Sections[name]
		if ok && addr >= base && addr < base+size {
			return Place{Section: name, Offset: addr - base}, true
		}
	}
	return Place{}, false
}

// Location is where in the source a place in the module comes from.
type Location struct {
	Function string
	File     string // empty without debug information
	Line     int
}

func (l Location) String() string {
	switch {
	case l.File != "":
		return fmt.Sprintf("%s (%s:%d)", l.Function, l.File, l.Line)
	case l.Function != "":
		return l.Function
	}
	return "an unknown place"
}

// Resolve names the function at p and, when the module has debug
// information, the file and line. For a return address (a call site as the
// kernel records it), pass the address itself: the lookup steps back one
// byte into the call instruction.
func (k *File) Resolve(p Place) Location {
	k.mu.Lock()
	defer k.mu.Unlock()
	if loc, ok := k.resolved[p]; ok {
		return loc
	}
	if k.resolved == nil {
		k.resolved = map[Place]Location{}
	}
	loc := k.resolve(p)
	k.resolved[p] = loc
	return loc
}

func (k *File) resolve(p Place) Location {
	loc := Location{Function: k.function(p)}
	if file, line, fn, ok := addr2line(k.Path, p.Section, p.Offset-1); ok {
		loc.File, loc.Line = file, line
		if fn != "" {
			loc.Function = fn
		}
	}
	if loc.Function == "" {
		loc.Function = fmt.Sprintf("%s+%#x", p.Section, p.Offset)
	}
	return loc
}

func (k *File) function(p Place) string {
	var best *elf.Symbol
	for i := range k.symbols {
		s := &k.symbols[i]
		if int(s.Section) >= len(k.names) || k.names[s.Section] != p.Section {
			continue
		}
		if s.Value <= p.Offset && (s.Size == 0 || p.Offset < s.Value+s.Size) {
			best = s
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

// sandboxPrefix is where the build sandbox puts a submission's sources:
// /build/, or /build/<random folder>/ when it builds many at once. Names
// are given to students without it, as their own file names.
var sandboxPrefix = regexp.MustCompile(`^/build/(?:[0-9a-f]{32}/)?`)

// sandboxPaths finds the sandbox's folder inside text, such as a report's
// "kernel BUG at /build/project.c:57!".
var sandboxPaths = regexp.MustCompile(`/build/(?:[0-9a-f]{32}/)?`)

// StripSandbox removes the build sandbox's folder from the paths in text,
// so that a student reads their own file names.
func StripSandbox(text string) string {
	return sandboxPaths.ReplaceAllString(text, "")
}

// addr2line asks binutils for the source of an offset in a section. With
// inlining, the outermost frame is the one in the student's own code (the
// innermost is often a kernel header such as slab.h).
func addr2line(ko, section string, offset uint64) (file string, line int, fn string, ok bool) {
	out, err := exec.Command("addr2line", "-f", "-i", "-e", ko, "-j", section,
		fmt.Sprintf("%#x", offset)).Output()
	if err != nil {
		return "", 0, "", false
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		return "", 0, "", false
	}
	fn, where := lines[len(lines)-2], lines[len(lines)-1]
	where, _, _ = strings.Cut(where, " ")
	i := strings.LastIndexByte(where, ':')
	if i < 0 || where[:i] == "??" {
		return "", 0, "", false
	}
	if _, err := fmt.Sscan(where[i+1:], &line); err != nil || line == 0 {
		return "", 0, "", false
	}
	file = sandboxPrefix.ReplaceAllString(where[:i], "")
	if fn == "??" {
		fn = ""
	}
	return file, line, fn, true
}

// ResolveFrame names the source of a call-trace frame such as
// "csse332_read+0xb1/0xc9 [project]", or returns false if the frame is not
// in this module.
func (k *File) ResolveFrame(frame string) (Location, bool) {
	name, rest, ok := strings.Cut(frame, "+0x")
	if !ok {
		return Location{}, false
	}
	offHex, _, _ := strings.Cut(rest, "/")
	var off uint64
	if _, err := fmt.Sscanf(offHex, "%x", &off); err != nil {
		return Location{}, false
	}
	for _, s := range k.symbols {
		if s.Name == name && int(s.Section) < len(k.names) {
			return k.Resolve(Place{Section: k.names[s.Section], Offset: s.Value + off}), true
		}
	}
	return Location{}, false
}
