package build_test

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"kmodgrade/grader/build"
)

// TestBuildAll builds modules of distinct names together, with one that
// does not compile and one that uses a symbol nobody exports among them:
// each gets what Build gives it alone, its own compiler output included.
func TestBuildAll(t *testing.T) {
	cfg := config(t)
	var jobs []build.Job
	want := map[string]string{} // id: "" to build, else a phrase of the error
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("m%d", i)
		src := writeFiles(t, map[string]string{name + ".c": tinyModule, "Makefile": "obj-m += " + name + ".o\n"})
		jobs = append(jobs, build.Job{ID: name, Src: src})
		want[name] = ""
	}
	broken := writeFiles(t, map[string]string{"broken.c": tinyModule + "int x = ;\n", "Makefile": "obj-m += broken.o\n"})
	jobs = append(jobs, build.Job{ID: "broken", Src: broken})
	want["broken"] = "broken.c:7:9: error"
	undef := writeFiles(t, map[string]string{"undef.c": strings.Replace(tinyModule, "return 0;",
		"extern int nowhere(void); return nowhere();", 1), "Makefile": "obj-m += undef.o\n"})
	jobs = append(jobs, build.Job{ID: "undef", Src: undef})
	want["undef"] = `the compiler reported errors, the first: ERROR: modpost: "nowhere" [undef.ko] undefined!`

	out := build.BuildAll(context.Background(), cfg, jobs, filepath.Join(t.TempDir(), "s"))

	for id, phrase := range want {
		o, ok := out[id]
		switch {
		case !ok:
			t.Errorf("%s: no outcome", id)
		case phrase == "" && o.Err != nil:
			t.Errorf("%s: %v", id, o.Err)
		case phrase == "":
			assertModule(t, o.Module.Path)
		case o.Err == nil:
			t.Errorf("%s built, want an error saying %q", id, phrase)
		default:
			be, _ := o.Err.(*build.Error)
			if be == nil || !strings.Contains(be.Reason+be.Output, phrase) {
				t.Errorf("%s: %v, want %q", id, o.Err, phrase)
			}
			if be != nil && strings.Contains(be.Output, "m1.c") {
				t.Errorf("%s's output holds another module's:\n%s", id, be.Output)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(out["m0"].Module.Path), "Kbuild")); err != nil {
		t.Errorf("m0 was not built in a folder of its own: %v", err)
	}
}

// TestBuildAllSameName builds modules that all keep one name together, as
// most of a class does, and checks that each comes out as it would alone:
// every section the kernel loads, and every symbol, the same to the byte
// (the module's name, and KBUILD_MODNAME in its strings, included). Only
// debug information, which names the build's folders, and the build ID,
// a hash of the rest, may differ.
func TestBuildAllSameName(t *testing.T) {
	cfg := config(t)
	var jobs []build.Job
	for i := 0; i < 5; i++ {
		src := strings.Replace(tinyModule, "return 0;",
			fmt.Sprintf(`pr_info("%%s says %d\n", KBUILD_MODNAME); return 0;`, i), 1)
		dir := writeFiles(t, map[string]string{"project.c": src, "Makefile": "obj-m += project.o\n"})
		jobs = append(jobs, build.Job{ID: fmt.Sprint(i), Src: dir})
	}
	dashed := writeFiles(t, map[string]string{"a.c": tinyModule, "b.c": "int b_helper(void) { return 1; }\n",
		"Makefile": "obj-m += my-module.o\nmy-module-objs := a.o b.o\n"})
	jobs = append(jobs, build.Job{ID: "dashed", Src: dashed})

	out := build.BuildAll(context.Background(), cfg, jobs, filepath.Join(t.TempDir(), "s"))

	for _, j := range jobs {
		o, ok := out[j.ID]
		if !ok || o.Err != nil {
			t.Fatalf("%s: not built with the others: %v", j.ID, o.Err)
		}
		if !strings.Contains(o.Module.Path, "/group") {
			t.Errorf("%s was built alone (%s), not with the others", j.ID, o.Module.Path)
		}
		alone, err := build.Build(context.Background(), cfg, j.Src, filepath.Join(t.TempDir(), "alone"))
		if err != nil {
			t.Fatalf("%s alone: %v", j.ID, err)
		}
		if o.Module.Name != alone.Name || filepath.Base(o.Module.Path) != filepath.Base(alone.Path) {
			t.Errorf("%s: built as %s (%s), alone as %s (%s)", j.ID, o.Module.Name, o.Module.Path,
				alone.Name, alone.Path)
		}
		compareModules(t, j.ID, o.Module.Path, alone.Path)
	}
}

// compareModules reports where two builds of a module differ in what the
// kernel loads: the contents of every allocated section, the relocations
// of each section, the symbols (by name, section, value and size) and the
// symbol versions. The order of sections in the file, of symbols in the
// symbol table and of entries in __versions are free to differ: kbuild
// links a module built under an alias as one of several objects, and its
// linker lays out the file in an order of its own.
func compareModules(t *testing.T, id, a, b string) {
	t.Helper()
	da, db := loaded(t, a), loaded(t, b)
	for k, va := range da {
		if vb, ok := db[k]; !ok {
			t.Errorf("%s: %s only in the module built with others", id, k)
		} else if va != vb {
			t.Errorf("%s: %s differs from the module built alone:\n%q\n%q", id, k, clip(va), clip(vb))
		}
	}
	for k := range db {
		if _, ok := da[k]; !ok {
			t.Errorf("%s: %s only in the module built alone", id, k)
		}
	}
	if len(da) < 10 {
		t.Errorf("%s: only %d parts of the module compared", id, len(da))
	}
}

// loaded describes what the kernel loads of a module, by part.
func loaded(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	sectionName := func(i elf.SectionIndex) string {
		if int(i) < len(f.Sections) {
			return f.Sections[i].Name
		}
		return fmt.Sprint(i)
	}
	out := map[string]string{}
	var names []string
	for _, s := range syms {
		names = append(names, fmt.Sprintf("%s@%s+%x/%x", s.Name, sectionName(s.Section), s.Value, s.Size))
	}
	sort.Strings(names)
	out["symbols"] = strings.Join(names, "\n")
	for _, s := range f.Sections {
		data, _ := s.Data()
		switch {
		case s.Name == "__versions":
			var entries []string
			for i := 0; i+64 <= len(data); i += 64 {
				entries = append(entries, string(data[i:i+64]))
			}
			sort.Strings(entries)
			out[s.Name] = strings.Join(entries, "")
		case s.Type == elf.SHT_RELA && s.Flags&elf.SHF_ALLOC == 0 && !strings.Contains(s.Name, ".debug"):
			var rels []string
			for i := 0; i+24 <= len(data); i += 24 {
				off := binary.LittleEndian.Uint64(data[i:])
				info := binary.LittleEndian.Uint64(data[i+8:])
				addend := int64(binary.LittleEndian.Uint64(data[i+16:]))
				sym := "none"
				if n := int(info >> 32); n > 0 && n-1 < len(syms) {
					sym = syms[n-1].Name + "@" + sectionName(syms[n-1].Section)
				}
				rels = append(rels, fmt.Sprintf("%x %d %s %+d", off, info&0xffffffff, sym, addend))
			}
			sort.Strings(rels)
			out[s.Name] = strings.Join(rels, "\n")
		case s.Flags&elf.SHF_ALLOC != 0 && s.Type != elf.SHT_NOBITS && s.Name != ".note.gnu.build-id":
			out[s.Name] = string(data)
		}
	}
	return out
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300]
	}
	return s
}
