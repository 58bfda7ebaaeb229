package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"kmodgrade/grader/internal/vmtest"
	"kmodgrade/grader/kernel"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"grader": func() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the command-line scripts that need no guest.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams("testdata/script"))
}

// TestScriptsVM runs the command-line scripts that grade in real guests,
// with the guest kernel's image and headers as $KERNEL_IMAGE and
// $KERNEL_HEADERS.
func TestScriptsVM(t *testing.T) {
	k := vmtest.Require(t)
	p := scriptParams("testdata/vm")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		env.Setenv("KERNEL_IMAGE", k.Image)
		env.Setenv("KERNEL_HEADERS", k.Headers)
		return setup(env)
	}
	testscript.Run(t, p)
}

// scriptParams gives the scripts the repository as $REPO, and what the go
// command and the grader's cache need, since testscript empties HOME.
func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir:  dir,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"fakeimage": fakeImage},
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", vmtest.Root())
			env.Setenv("KMODGRADE_CACHE", kernel.CacheDir())
			for _, v := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
				out, err := exec.Command("go", "env", v).Output()
				if err != nil {
					return err
				}
				env.Setenv(v, strings.TrimSpace(string(out)))
			}
			return nil
		},
	}
}

// fakeImage writes a file with just enough of a bzImage's setup header to
// carry a release: fakeimage FILE RELEASE.
func fakeImage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: fakeimage FILE RELEASE")
	}
	img := make([]byte, 0x400)
	copy(img[0x202:], "HdrS")
	img[0x20f] = 0x01 // the version string is at 0x100 + 0x200
	copy(img[0x300:], args[1]+" #1\x00")
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), img, 0o644))
}
