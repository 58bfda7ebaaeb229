package build

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMakefile(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		module  string
		objects []string
		kbuild  string
	}{
		{
			name: "the assignment's Makefile",
			text: "CONFIG_MODULE_SIG=n\n\n" +
				"obj-m += project.o\n\n" +
				"all:\n" +
				"\tmake -C /lib/modules/$(shell uname -r)/build M=$(PWD) modules\n\n" +
				"clean:\n" +
				"\tmake -C /lib/modules/$(shell uname -r)/build M=$(PWD) clean\n",
			module:  "project",
			objects: []string{"project.o"},
			kbuild:  "obj-m := project.o\n",
		},
		{
			name:    "a variable in the name of the objects list",
			text:    "MODULE := rtsched\nobj-m := $(MODULE).o\n$(MODULE)-objs := main.o proc.o\n",
			module:  "rtsched",
			objects: []string{"main.o", "proc.o"},
			kbuild:  "obj-m := rtsched.o\nrtsched-y := main.o proc.o\n",
		},
		{
			name:    "objs list",
			text:    "obj-m := a.o\na-objs := x.o y.o\n",
			module:  "a",
			objects: []string{"x.o", "y.o"},
			kbuild:  "obj-m := a.o\na-y := x.o y.o\n",
		},
		{
			name: "y list continued over lines",
			text: "obj-m := a.o\n" +
				"a-y += main.o \\\n" +
				"\tproc.o \\\n" +
				"\tarray.o\n" +
				"a-y += main.o\n",
			module:  "a",
			objects: []string{"main.o", "proc.o", "array.o"},
			kbuild:  "obj-m := a.o\na-y := main.o proc.o array.o\n",
		},
		{
			name:    "variable expansion",
			text:    "MOD := foo\nSRC = main\nobj-m += $(MOD).o\nfoo-objs := ${SRC}.o proc.o\n",
			module:  "foo",
			objects: []string{"main.o", "proc.o"},
			kbuild:  "obj-m := foo.o\nfoo-y := main.o proc.o\n",
		},
		{
			name: "comments",
			text: "# obj-m += old.o\n" +
				"obj-m += project.o # the module\n" +
				"#project-objs := a.o b.o\n",
			module:  "project",
			objects: []string{"project.o"},
			kbuild:  "obj-m := project.o\n",
		},
		{
			name:    "obj-$(CONFIG_X)",
			text:    "obj-$(CONFIG_X) += a.o\n",
			module:  "a",
			objects: []string{"a.o"},
			kbuild:  "obj-m := a.o\n",
		},
		{
			name: "inside ifneq KERNELRELEASE",
			text: "ifneq ($(KERNELRELEASE),)\n" +
				"obj-m := rtsched.o\n" +
				"rtsched-objs := main.o proc.o\n" +
				"else\n" +
				"KDIR ?= /lib/modules/$(shell uname -r)/build\n" +
				"default:\n" +
				"\t$(MAKE) -C $(KDIR) M=$$PWD\n" +
				"endif\n",
			module:  "rtsched",
			objects: []string{"main.o", "proc.o"},
			kbuild:  "obj-m := rtsched.o\nrtsched-y := main.o proc.o\n",
		},
		{
			name:    "a later := replaces",
			text:    "obj-m := old.o\nobj-m := new.o\n",
			module:  "new",
			objects: []string{"new.o"},
			kbuild:  "obj-m := new.o\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseMakefile(tt.text)
			if err != nil {
				t.Fatalf("ParseMakefile() error = %v", err)
			}
			if s.Module != tt.module || !reflect.DeepEqual(s.Objects, tt.objects) {
				t.Errorf("ParseMakefile() = %q %q, want %q %q",
					s.Module, s.Objects, tt.module, tt.objects)
			}
			if got := s.Kbuild(); got != tt.kbuild {
				t.Errorf("Kbuild() = %q, want %q", got, tt.kbuild)
			}
		})
	}
}

func TestParseMakefileErrors(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		phrase string
	}{
		{"no obj-m", "all:\n\tmake -C /lib/modules/$(shell uname -r)/build M=$(PWD) modules\n",
			"no obj-m line"},
		{"obj-m only in a recipe", "all:\n\tobj-m += a.o\n", "no obj-m line"},
		{"two modules", "obj-m += a.o\nobj-m += b.o\n", "obj-m names 2 modules (a.o b.o)"},
		{"shell function", "obj-m += $(shell echo x).o\n", `obj-m holds "$(shell echo x).o", which needs make`},
		{"undefined variable", "obj-m += $(MOD).o\n", `obj-m holds "$(MOD).o", which needs make to run`},
		{"not an object", "obj-m += project.c\n", `obj-m names "project.c"`},
		{"object above the folder", "obj-m := a.o\na-y := main.o ../x.o\n",
			`a lists "../x.o", which is not a plain object file`},
		{"absolute object", "obj-m := a.o\na-objs := /tmp/x.o\n",
			`a lists "/tmp/x.o", which is not a plain object file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseMakefile(tt.text)
			if err == nil {
				t.Fatalf("ParseMakefile() = %+v, want an error", s)
			}
			if !strings.Contains(err.Error(), tt.phrase) {
				t.Errorf("ParseMakefile() error = %q, want %q", err, tt.phrase)
			}
		})
	}
}

func TestFindSpec(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		module  string
		objects []string
		from    string
		err     string
	}{
		{
			name:    "one .c file, no Makefile",
			files:   map[string]string{"csse332.c": "", "notes.txt": ""},
			module:  "csse332",
			objects: []string{"csse332.o"},
			from:    "no Makefile: built csse332.c alone",
		},
		{
			name:  "two .c files, no Makefile",
			files: map[string]string{"main.c": "", "proc.c": ""},
			err:   "2 .c files to choose from",
		},
		{
			name: "Kbuild preferred over Makefile",
			files: map[string]string{
				"Kbuild":   "obj-m := fromkbuild.o\n",
				"Makefile": "obj-m := frommake.o\n",
				"a.c":      "",
			},
			module:  "fromkbuild",
			objects: []string{"fromkbuild.o"},
			from:    "Kbuild",
		},
		{
			name:    "Makefile",
			files:   map[string]string{"Makefile": "obj-m += project.o\n", "project.c": ""},
			module:  "project",
			objects: []string{"project.o"},
			from:    "Makefile",
		},
		{
			name:  "Makefile without obj-m",
			files: map[string]string{"Makefile": "all:\n\tgcc -o a a.c\n", "a.c": ""},
			err:   "Makefile: no obj-m line",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			s, err := FindSpec(dir)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("FindSpec() = %+v, %v; want error %q", s, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("FindSpec() error = %v", err)
			}
			if s.Module != tt.module || !reflect.DeepEqual(s.Objects, tt.objects) ||
				s.From != tt.from {
				t.Errorf("FindSpec() = %q %q from %q, want %q %q from %q",
					s.Module, s.Objects, s.From, tt.module, tt.objects, tt.from)
			}
		})
	}
}
