package grade_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"

	"kmodgrade/grader/build"
	"kmodgrade/grader/check"
	"kmodgrade/grader/grade"
	"kmodgrade/grader/internal/vmtest"
	"kmodgrade/grader/kernel"
	"kmodgrade/grader/kmod"
	"kmodgrade/grader/rubric"
	"kmodgrade/grader/step"
	"kmodgrade/grader/submission"
	"kmodgrade/grader/vm"
)

// TestMain lets this test binary also serve, inside a guest, as the grader
// that checks on its own machine's kernel (TestHostMode).
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "host-observe" {
		os.Exit(hostObserve(os.Args[2], os.Args[3]))
	}
	os.Exit(m.Run())
}

// hostModules are the samples that TestHostMode checks on a machine's own
// kernel: one for each item lost alone, and a correct one. (A sample that
// crashes the kernel would take that machine down, here the guest.)
var hostModules = []string{"correct", "leak", "no_prefix", "exit_message_at_load", "proc_mode",
	"write_off_by_one", "read_all_at_once"}

// TestHostMode checks what grader check --host does on a machine whose
// kernel can load modules (the machine that runs the tests cannot): a
// guest plays the student's machine. The samples are built here; in the
// guest, this test binary grades each on the guest's own running kernel
// through a local agent (grade.Config.LocalAgent), as check --host does on
// a student's machine (with the grader's own host-agent command as that
// agent), and prints what it observed; the observations are
// judged here, and each sample must get the points expected.yaml gives it,
// with the same messages as when it is graded in a guest of its own. The
// machine must be left as it was: no module loaded, no tracing instance,
// nothing in its /tmp.
func TestHostMode(t *testing.T) {
	k := vmtest.Require(t)
	root := vmtest.Root()
	ctx := context.Background()
	rb, err := rubric.Load(filepath.Join(root, "rubrics", "milestone1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := readExpected(t, filepath.Join(root, "submissions", "expected.yaml"))
	g := newGrader(t, rb, k)
	if _, err := g.Reference(ctx, rb.Reference); err != nil {
		t.Fatalf("reference: %v", err)
	}

	dir := t.TempDir()
	bcfg := &build.Config{Headers: k.Headers, Release: k.Release, ProcOpsCompat: rb.ProcOpsCompat,
		Timeout: 2 * time.Minute, MemoryMB: 4096}
	mods := map[string]*build.Module{}
	files := map[string]string{} // in the guest: on the host
	for _, id := range hostModules {
		mod, err := build.Build(ctx, bcfg, filepath.Join(root, "submissions", id), filepath.Join(dir, "build", id))
		if err != nil {
			t.Fatalf("build %s: %v", id, err)
		}
		mods[id] = mod
		files["t/"+id+".ko"] = mod.Path
	}
	stuck, err := build.Build(ctx, bcfg, filepath.Join(root, "hostile", "stays_referenced"),
		filepath.Join(dir, "build", "stuck"))
	if err != nil {
		t.Fatalf("build stays_referenced: %v", err)
	}
	files["t/stuck.ko"] = stuck.Path
	stuckJob := *stuck
	stuckJob.Path = "/t/stuck.ko"
	writeJSON(t, filepath.Join(dir, "stuck.json"), map[string]*build.Module{"stuck": &stuckJob})
	files["t/stuck.json"] = filepath.Join(dir, "stuck.json")
	files["t/grade.test"] = goStatic(t, filepath.Join(dir, "grade.test"), "test", "-c", ".")
	files["t/grader"] = goStatic(t, filepath.Join(dir, "grader"), "build", "kmodgrade/grader")
	files["t/milestone1.yaml"] = rb.Path
	job := map[string]*build.Module{}
	for id, m := range mods {
		inGuest := *m
		inGuest.Path = "/t/" + id + ".ko"
		job[id] = &inGuest
	}
	jobFile := filepath.Join(dir, "job.json")
	writeJSON(t, jobFile, job)
	files["t/job.json"] = jobFile

	guestVM := startWith(t, k, g.Accel(), files)
	// The guest's own agent traces kmalloc and kfree; a student's machine
	// does not, and must not be made to.
	events := "/sys/kernel/tracing/events/kmem/kmalloc/enable /sys/kernel/tracing/events/kmem/kfree/enable"
	o, err := guestVM.Do(ctx, step.Step{Op: step.OpShell, Command: "for f in " + events + "; do echo 0 > $f; done"},
		time.Minute)
	if err != nil || o.Exit != 0 {
		t.Fatalf("turn the guest's tracing off: %v %+v", err, o)
	}
	o, err = guestVM.Do(ctx, step.Step{Op: step.OpShell, TimeoutMillis: 300_000, MaxBytes: 6 << 20,
		Command: "/t/grade.test host-observe /t/milestone1.yaml /t/job.json"}, 6*time.Minute)
	if err != nil {
		t.Fatalf("host mode in the guest: %v\n%s", err, guestVM.Console())
	}
	if o.Exit != 0 || o.Error != "" {
		t.Fatalf("host mode in the guest: exit %d %s\n%s", o.Exit, o.Error, o.Output)
	}
	var seen map[string]*check.Evidence
	if err := json.Unmarshal(o.Output, &seen); err != nil {
		t.Fatalf("the guest's answer: %v\n%.2000s", err, o.Output)
	}

	for _, id := range hostModules {
		t.Run(id, func(t *testing.T) {
			ev := seen[id]
			if ev == nil {
				t.Fatalf("no observations of %s from the guest", id)
			}
			ev.Ko, err = kmod.Open(mods[id].Path)
			if err != nil {
				t.Fatal(err)
			}
			subs, err := submission.FromFolders([]string{filepath.Join(root, "submissions", id)})
			if err != nil {
				t.Fatal(err)
			}
			res := g.JudgeEvidence(subs[0], mods[id], ev)
			checkResult(t, rb, res, want[id])
			sameGrade(t, g.Grade(ctx, subs[0]), res)
		})
	}

	// Left as it was.
	o, err = guestVM.Do(ctx, step.Step{Op: step.OpShell, MaxBytes: 1 << 20, Command: "cat /proc/modules; " +
		"ls /sys/kernel/tracing/instances; ls /tmp; cat " + events}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if left := strings.TrimSpace(string(o.Output)); left != "0\n0" {
		t.Errorf("host mode left this behind on the machine (modules, tracing instances, /tmp files, "+
			"kmalloc tracing on):\n%s", left)
	}

	// A module that cannot be unloaded stays in the machine's kernel: the
	// checks that would load it again are not run, and say why.
	o, err = guestVM.Do(ctx, step.Step{Op: step.OpShell, TimeoutMillis: 120_000, MaxBytes: 6 << 20,
		Command: "/t/grade.test host-observe /t/milestone1.yaml /t/stuck.json"}, 3*time.Minute)
	if err != nil || o.Exit != 0 {
		t.Fatalf("host mode in the guest: %v %+v", err, o)
	}
	if err := json.Unmarshal(o.Output, &seen); err != nil || seen["stuck"] == nil {
		t.Fatalf("the guest's answer: %v\n%.2000s", err, o.Output)
	}
	ev := seen["stuck"]
	if ev.Ko, err = kmod.Open(stuck.Path); err != nil {
		t.Fatal(err)
	}
	res := g.JudgeEvidence(submission.Submission{ID: "stuck"}, stuck, ev)
	for _, it := range res.Items {
		if it.Short == "write" || it.Short == "read" {
			if it.Score != 0 || !itemSays(it, "could not be unloaded from this machine's kernel") {
				t.Errorf("item %s: %g points, checks %+v; want 0, and why", it.Short, it.Score, it.Checks)
			}
		}
	}
}

// hostObserve is TestHostMode's part in the guest: it observes each module
// of the job on this machine's own kernel, as grader check --host does, and
// prints the observations as JSON.
func hostObserve(rubricPath, jobPath string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "host-observe:", err)
		return 1
	}
	rb, err := rubric.Load(rubricPath)
	if err != nil {
		return fail(err)
	}
	b, err := os.ReadFile(jobPath)
	if err != nil {
		return fail(err)
	}
	var job map[string]*build.Module
	if err := json.Unmarshal(b, &job); err != nil {
		return fail(err)
	}
	g, err := grade.New(context.Background(), &grade.Config{Rubric: rb, Kernel: &kernel.Kernel{},
		LocalAgent: []string{"/t/grader", "host-agent"}})
	if err != nil {
		return fail(err)
	}
	defer g.Close()
	out := map[string]*check.Evidence{}
	for id, mod := range job {
		ev, err := g.ObserveBuilt(context.Background(), mod)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", id, err))
		}
		out[id] = ev
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return fail(err)
	}
	return 0
}

// startWith boots a guest whose initramfs also holds files (guest path:
// host path), appended to the agent's as a second cpio archive, which the
// kernel unpacks over the first.
func startWith(t *testing.T, k *kernel.Kernel, accel string, files map[string]string) *vm.Guest {
	t.Helper()
	dir := t.TempDir()
	initrd := vmtest.Initramfs(t, dir)
	f, err := os.OpenFile(initrd, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := cpio.NewWriter(f)
	if err := w.WriteHeader(&cpio.Header{Name: "t", Mode: cpio.TypeDir | 0o755}); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteHeader(&cpio.Header{Name: name, Mode: cpio.TypeReg | 0o755, Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cfg := &vm.Config{QEMU: "qemu-system-x86_64", Kernel: k.Image, Accel: accel, MemoryMB: 1024,
		BootTimeout: 2 * time.Minute, Log: t.Logf}
	gv, err := vm.Start(context.Background(), cfg, initrd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gv.Close)
	return gv
}

// goStatic runs the go command (build, or test -c) to make a static
// executable for the guest at out.
func goStatic(t *testing.T, out string, args ...string) string {
	t.Helper()
	c := exec.Command("go", append([]string{args[0], "-o", out}, args[1:]...)...)
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go %s for the guest: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return out
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
