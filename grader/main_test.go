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

// TestScriptsVM runs the command-line scripts that grade in real guests.
func TestScriptsVM(t *testing.T) {
	vmtest.Require(t)
	testscript.Run(t, scriptParams("testdata/vm"))
}

// scriptParams gives the scripts the repository as $REPO, and what the go
// command and the grader's cache need, since testscript empties HOME.
func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir: dir,
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
