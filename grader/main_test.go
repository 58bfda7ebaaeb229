package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestSlurm grades a class as an array job on a real single-node Slurm
// cluster, started for the test, and compares it with a local run.
func TestSlurm(t *testing.T) {
	k := vmtest.Require(t)
	conf := vmtest.RequireSlurm(t)
	p := scriptParams("testdata/slurm")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		env.Setenv("KERNEL_IMAGE", k.Image)
		env.Setenv("KERNEL_HEADERS", k.Headers)
		env.Setenv("SLURM_CONF", conf)
		return setup(env)
	}
	testscript.Run(t, p)
}

// scriptParams gives the scripts the repository as $REPO, and what the go
// command and the grader's cache need, since testscript empties HOME.
func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir: dir,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"fakeimage": fakeImage, "moodlezip": moodleZip, "waitfile": waitFile, "unzip": unzipCmd},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "modules": // this machine's kernel can load modules
				_, err := os.Stat("/proc/modules")
				return err == nil, nil
			case "root":
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
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

// moodleZip writes a class download as Moodle makes it:
// moodlezip OUT.zip 'Full Name_ID=FOLDER[:zip|:tgz]'... Each student's
// folder holds the files of FOLDER, loose, or in one project.zip or
// project.tar.gz under a project/ folder; an empty FOLDER makes an empty upload.
func moodleZip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: moodlezip OUT.zip 'Full Name_ID=FOLDER[:zip|:tgz]'...")
	}
	out, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	zw := zip.NewWriter(out)
	for _, a := range args[1:] {
		student, src, _ := strings.Cut(a, "=")
		src, form, _ := strings.Cut(src, ":")
		folder := student + "_assignsubmission_file/"
		if src == "" {
			_, err := zw.Create(folder)
			ts.Check(err)
			continue
		}
		files := map[string][]byte{}
		entries, err := os.ReadDir(src)
		ts.Check(err)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			ts.Check(err)
			files[e.Name()] = b
		}
		switch form {
		case "":
			for name, b := range files {
				w, err := zw.Create(folder + name)
				ts.Check(err)
				w.Write(b)
			}
		case "zip":
			var buf bytes.Buffer
			inner := zip.NewWriter(&buf)
			for name, b := range files {
				w, err := inner.Create("project/" + name)
				ts.Check(err)
				w.Write(b)
			}
			ts.Check(inner.Close())
			w, err := zw.Create(folder + "project.zip")
			ts.Check(err)
			w.Write(buf.Bytes())
		case "tgz":
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			tw := tar.NewWriter(gz)
			for name, b := range files {
				ts.Check(tw.WriteHeader(&tar.Header{Name: "project/" + name, Mode: 0o644, Size: int64(len(b))}))
				tw.Write(b)
			}
			ts.Check(tw.Close())
			ts.Check(gz.Close())
			w, err := zw.Create(folder + "project.tar.gz")
			ts.Check(err)
			w.Write(buf.Bytes())
		default:
			ts.Fatalf("unknown form %q", form)
		}
	}
	ts.Check(zw.Close())
	ts.Check(out.Close())
}

// waitFile waits until a file exists: waitfile FILE SECONDS.
func waitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitfile FILE SECONDS")
	}
	secs, err := strconv.Atoi(args[1])
	ts.Check(err)
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear within %ss", args[0], args[1])
}

// unzipCmd unpacks a zip the grader wrote: unzip ZIP DIR.
func unzipCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: unzip ZIP DIR")
	}
	r, err := zip.OpenReader(ts.MkAbs(args[0]))
	ts.Check(err)
	defer r.Close()
	for _, f := range r.File {
		if strings.Contains(f.Name, "..") || strings.HasPrefix(f.Name, "/") {
			ts.Fatalf("the zip holds an unsafe name: %q", f.Name)
		}
		dst := filepath.Join(ts.MkAbs(args[1]), f.Name)
		ts.Check(os.MkdirAll(filepath.Dir(dst), 0o755))
		rc, err := f.Open()
		ts.Check(err)
		b, err := io.ReadAll(rc)
		rc.Close()
		ts.Check(err)
		ts.Check(os.WriteFile(dst, b, 0o644))
	}
}
