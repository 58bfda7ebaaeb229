package build_test

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kmodgrade/grader/build"
	"kmodgrade/grader/internal/vmtest"
)

func config(t *testing.T) *build.Config {
	k := vmtest.Require(t)
	return &build.Config{Headers: k.Headers, Timeout: 2 * time.Minute, MemoryMB: 4096, Log: t.Logf}
}

// writeFiles makes a submission folder from name -> content.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const tinyModule = `#include <linux/module.h>
MODULE_LICENSE("GPL");
static int __init m_init(void) { return 0; }
static void __exit m_exit(void) { }
module_init(m_init);
module_exit(m_exit);
`

func TestBuildSamples(t *testing.T) {
	cfg := config(t)
	for _, tc := range []struct{ dir, module string }{
		{"reference", "csse332"},
		{"submissions/two_files", "rtsched"},
		{"submissions/correct", "project"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			mod, err := build.Build(context.Background(), cfg, filepath.Join(vmtest.Root(), tc.dir),
				filepath.Join(t.TempDir(), "scratch"))
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if mod.Name != tc.module {
				t.Errorf("module %q, want %q", mod.Name, tc.module)
			}
			assertModule(t, mod.Path)
		})
	}
}

// assertModule checks that path is a relocatable ELF object, as a .ko is.
func assertModule(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_REL || f.Section(".modinfo") == nil {
		t.Errorf("%s is not a kernel module", path)
	}
}

// TestBuildSandbox checks that the compiler sees nothing of the host but
// /usr, and that nothing in the student's Makefile runs.
func TestBuildSandbox(t *testing.T) {
	cfg := config(t)
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret.h")
	if err := os.WriteFile(secret, []byte("int leaked = 42; /* SECRET-8d1f */\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(secretDir, "ran")

	for _, tc := range []struct {
		name, include string
	}{
		{"host file outside /usr", secret},
		{"shadow", "/etc/shadow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := writeFiles(t, map[string]string{
				"m.c":      "#include \"" + tc.include + "\"\n" + tinyModule,
				"Makefile": "obj-m += m.o\n",
			})
			_, err := build.Build(context.Background(), cfg, src, filepath.Join(t.TempDir(), "s"))
			var be *build.Error
			if !errors.As(err, &be) {
				t.Fatalf("build of a module including %s: %v, want a build error", tc.include, err)
			}
			if !strings.Contains(be.Output, "No such file or directory") {
				t.Errorf("output does not say the file is missing:\n%s", be.Output)
			}
			if strings.Contains(be.Output, "SECRET") || strings.Contains(be.Output, "root:") {
				t.Errorf("the host file leaked into the output:\n%s", be.Output)
			}
		})
	}

	t.Run("makefile commands never run", func(t *testing.T) {
		src := writeFiles(t, map[string]string{
			"m.c": tinyModule,
			"Makefile": "X := $(shell touch " + marker + ")\nobj-m += m.o\n" +
				"all:\n\ttouch " + marker + "\n\tmake -C /lib/modules/$(shell uname -r)/build M=$(PWD) modules\n",
			"m.ko": "not a module: the grader must build its own",
		})
		mod, err := build.Build(context.Background(), cfg, src, filepath.Join(t.TempDir(), "s"))
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("a command of the student's Makefile ran: %s exists", marker)
		}
		assertModule(t, mod.Path)
	})
}

func TestBuildErrors(t *testing.T) {
	cfg := config(t)
	for _, tc := range []struct {
		name   string
		files  map[string]string
		reason string
	}{
		{"missing source", map[string]string{"Makefile": "obj-m += m.o\nm-objs := a.o b.o\n", "a.c": tinyModule},
			"names b.o, but there is no b.c"},
		{"no makefile, two sources", map[string]string{"a.c": tinyModule, "b.c": "int x;\n"},
			"no Makefile or Kbuild file"},
		{"compile error", map[string]string{"Makefile": "obj-m += m.o\n", "m.c": tinyModule + "int broken = ;\n"},
			"the compiler reported errors, the first: m.c:7:14: error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build.Build(context.Background(), cfg, writeFiles(t, tc.files), filepath.Join(t.TempDir(), "s"))
			var be *build.Error
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want a build error", err)
			}
			if !strings.Contains(be.Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", be.Reason, tc.reason)
			}
		})
	}
}

// TestBuildLimits builds the hostile corpus's compile bomb, whose
// preprocessor output has no end, under a small memory limit and then under
// a short time limit, and checks that each stop says which limit it was.
func TestBuildLimits(t *testing.T) {
	base := config(t)
	bomb := filepath.Join(vmtest.Root(), "hostile", "compile_bomb")
	for _, tc := range []struct {
		name     string
		memoryMB int
		timeout  time.Duration
		reason   string
	}{
		{"memory", 768, 2 * time.Minute, "the compiler ran out of memory: the build may use at most 768 MiB"},
		{"time", 64 << 10, 3 * time.Second, "the build did not finish within 3s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := *base
			cfg.MemoryMB, cfg.Timeout = tc.memoryMB, tc.timeout
			_, err := build.Build(context.Background(), &cfg, bomb, filepath.Join(t.TempDir(), "s"))
			var be *build.Error
			if !errors.As(err, &be) {
				t.Fatalf("err = %v, want a build error", err)
			}
			if !strings.Contains(be.Reason, tc.reason) || !strings.Contains(be.Reason, "preprocessor blows up") {
				t.Errorf("reason %q does not say %q", be.Reason, tc.reason)
			}
		})
	}
}

// TestBuildProcOpsCompat builds a module written for kernels before 5.6
// with and without the compatibility layer, and checks that the layer keeps
// the student's line numbers in compiler messages.
func TestBuildProcOpsCompat(t *testing.T) {
	cfg := config(t)
	pre56 := filepath.Join(vmtest.Root(), "submissions", "pre56_fops")

	without := *cfg
	_, err := build.Build(context.Background(), &without, pre56, filepath.Join(t.TempDir(), "s"))
	var be *build.Error
	if !errors.As(err, &be) || !strings.Contains(be.Reason, "since Linux 5.6, proc_create takes a struct proc_ops") {
		t.Errorf("without the layer: %v, want a build error with the proc_ops hint", err)
	}

	with := *cfg
	with.ProcOpsCompat = true
	mod, err := build.Build(context.Background(), &with, pre56, filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatalf("with the layer: %v", err)
	}
	assertModule(t, mod.Path)

	src, err := os.ReadFile(filepath.Join(pre56, "project.c"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "\tentries[index] = value;\n", "\tentries[index] = value\n", 1)
	line := 1 + strings.Count(broken[:strings.Index(broken, "entries[index] = value\n")], "\n")
	dir := writeFiles(t, map[string]string{"project.c": broken, "Makefile": "obj-m += project.o\n"})
	_, err = build.Build(context.Background(), &with, dir, filepath.Join(t.TempDir(), "s"))
	if !errors.As(err, &be) || !strings.Contains(be.Output, fmt.Sprintf("project.c:%d:", line)) {
		t.Errorf("with the layer, the error is not reported at project.c:%d: %v\n%s", line, err, be.Output)
	}
}
