package grade_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"kmodgrade/grader/batch"
	"kmodgrade/grader/grade"
	"kmodgrade/grader/internal/vmtest"
	"kmodgrade/grader/results"
	"kmodgrade/grader/rubric"
	"kmodgrade/grader/submission"
)

// hostileMarkers are the files the corpus's Makefiles and Kbuild files try
// to create on the host; the grader never runs them, so none may appear.
const hostileMarkers = "/tmp/kmodgrade-hostile-*"

// TestHostileCorpusListed checks, without a guest, that every case of the
// hostile corpus has its expected grade and that the README's count of the
// cases is right.
func TestHostileCorpusListed(t *testing.T) {
	root := vmtest.Root()
	want := readExpected(t, filepath.Join(root, "hostile", "expected.yaml"))
	folders := sampleFolders(t, filepath.Join(root, "hostile"))
	for _, f := range folders {
		if _, ok := want[filepath.Base(f)]; !ok {
			t.Errorf("hostile/%s has no entry in hostile/expected.yaml", filepath.Base(f))
		}
	}
	for name := range want {
		if _, err := os.Stat(filepath.Join(root, "hostile", name)); err != nil {
			t.Errorf("hostile/expected.yaml lists %s, which has no folder", name)
		}
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`The hostile corpus has (\d+) cases`).FindSubmatch(readme)
	if m == nil {
		t.Fatal(`README.md does not say "The hostile corpus has N cases"`)
	}
	if n, _ := strconv.Atoi(string(m[1])); n != len(folders) {
		t.Errorf("README.md says the hostile corpus has %d cases; hostile/ has %d", n, len(folders))
	}
}

// TestHostile grades the whole hostile corpus as one batch, two at a time,
// with a correct submission among them, and checks that every case gets
// its expected grade and reason, that the correct one is untouched by its
// neighbours, that nothing was created on the host, and that nothing of
// /etc/shadow reached any result.
func TestHostile(t *testing.T) {
	k := vmtest.Require(t)
	root := vmtest.Root()
	os.Remove("/tmp/kmodgrade-hostile-makefile") // left by a run by hand, if any
	want := readExpected(t, filepath.Join(root, "hostile", "expected.yaml"))
	rb, err := rubric.Load(filepath.Join(root, "rubrics", "milestone1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The corpus's compile bomb runs until a limit stops it: a shorter
	// build limit than the rubric's keeps the test short.
	rb.BuildTimeout = 30 * time.Second

	folders := sampleFolders(t, filepath.Join(root, "hostile"))
	correct := filepath.Join(root, "submissions", "correct")
	mid := len(folders) / 2
	folders = append(folders[:mid:mid], append([]string{correct}, folders[mid:]...)...)
	subs, err := submission.FromFolders(folders)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	g := newGrader(t, rb, k)
	store, err := results.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := batch.Run(ctx, g, store, subs, batch.Options{Jobs: 2, Inputs: "hostile",
		Reference: rb.Reference})
	if err != nil {
		t.Fatalf("the batch did not finish: %v", err)
	}

	for i, r := range res {
		t.Run(subs[i].ID, func(t *testing.T) {
			if r == nil {
				t.Fatal("no result")
			}
			if subs[i].ID == "correct" {
				checkResult(t, rb, r, expectation{Total: 120})
				return
			}
			checkResult(t, rb, r, want[subs[i].ID])
		})
	}
	if left, _ := filepath.Glob(hostileMarkers); len(left) > 0 {
		t.Errorf("a submission's Makefile or Kbuild ran on the host: %v exist", left)
	}
	checkNoShadow(t, res)
}

// checkNoShadow fails if any piece of /etc/shadow appears in a result.
func checkNoShadow(t *testing.T, res []*grade.Result) {
	t.Helper()
	shadow, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Logf("cannot read /etc/shadow to look for it in the results: %v", err)
		return
	}
	all, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(shadow), "\n") {
		for _, field := range strings.Split(line, ":") {
			if len(field) >= 8 && strings.Contains(string(all), field) {
				t.Errorf("a result holds a piece of /etc/shadow: %q", field)
			}
		}
	}
}
