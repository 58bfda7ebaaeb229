package grade_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/internal/vmtest"
	"kmodgrade/grader/kernel"
	"kmodgrade/grader/rubric"
	"kmodgrade/grader/submission"
)

// expectation is one entry of submissions/expected.yaml.
type expectation struct {
	Status string             `yaml:"status"`
	Total  float64            `yaml:"total"`
	Items  map[string]float64 `yaml:"items"`
	Says   map[string]string  `yaml:"says"`
}

// TestSamples grades every sample submission in real guests and checks the
// score of each item, and the reason for points lost, against
// submissions/expected.yaml.
func TestSamples(t *testing.T) {
	k := vmtest.Require(t)
	root := vmtest.Root()
	want := readExpected(t, filepath.Join(root, "submissions", "expected.yaml"))
	folders := sampleFolders(t, filepath.Join(root, "submissions"))
	for _, f := range folders {
		if _, ok := want[filepath.Base(f)]; !ok {
			t.Errorf("submissions/%s has no entry in expected.yaml", filepath.Base(f))
		}
	}

	rb, err := rubric.Load(filepath.Join(root, "rubrics", "milestone1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g := newGrader(t, rb, k)
	ref, err := g.Reference(ctx, rb.Reference)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	if ref.Score != 120 {
		t.Fatalf("reference scored %g, want 120", ref.Score)
	}

	// A student's self-check grades against the reference's recorded
	// expectations, without its source: it must give the same grades.
	e, err := g.Expectations()
	if err != nil {
		t.Fatal(err)
	}
	self := newGrader(t, rb, k)
	if err := self.UseExpectations(e); err != nil {
		t.Fatal(err)
	}

	subs, err := submission.FromFolders(folders)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		t.Run(sub.ID, func(t *testing.T) {
			exp, ok := want[sub.ID]
			if !ok {
				t.Skip("not in expected.yaml (reported above)")
			}
			res := g.Grade(ctx, sub)
			checkResult(t, rb, res, exp)
			sameGrade(t, res, self.Grade(ctx, sub))
		})
	}
}

// sameGrade fails unless a self-check's result gives every item the same
// points, with the same messages, as the instructor's.
func sameGrade(t *testing.T, instructor, self *grade.Result) {
	t.Helper()
	if self.Score != instructor.Score || self.Status != instructor.Status {
		t.Errorf("self-check: %g (%s), instructor: %g (%s)", self.Score, self.Status,
			instructor.Score, instructor.Status)
	}
	for i, it := range instructor.Items {
		if i >= len(self.Items) || self.Items[i].Score != it.Score {
			t.Errorf("item %s: the self-check's points differ from the instructor's %g", it.Name, it.Score)
			continue
		}
		for j, c := range it.Checks {
			if sc := self.Items[i].Checks[j]; maskAddresses(sc.Message) != maskAddresses(c.Message) {
				t.Errorf("item %s: self-check says %q\ninstructor says %q", it.Name, sc.Message, c.Message)
			}
		}
	}
}

// maskAddresses hides what differs from one crash to the next.
func maskAddresses(s string) string {
	return hexNumber.ReplaceAllString(s, "X")
}

var hexNumber = regexp.MustCompile(`(0x)?[0-9a-f]{8,}|stuck for \d+s|init:\d+`)

// newGrader opens a grader for a test, closed when the test ends.
func newGrader(t *testing.T, rb *rubric.Rubric, k *kernel.Kernel) *grade.Grader {
	t.Helper()
	g, err := grade.New(context.Background(), &grade.Config{Rubric: rb, Kernel: k,
		QEMU: "qemu-system-x86_64", Accel: "auto", Busybox: "/bin/busybox", Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func checkResult(t *testing.T, rb *rubric.Rubric, res *grade.Result, exp expectation) {
	t.Helper()
	status := exp.Status
	if status == "" {
		status = grade.StatusGraded
	}
	if res.Status != status {
		t.Errorf("status %q, want %q (error: %s)", res.Status, status, res.Error)
	}
	if res.Score != exp.Total {
		t.Errorf("total %g, want %g", res.Score, exp.Total)
	}
	for i, it := range rb.Items {
		got := res.Items[i]
		wantScore, listed := exp.Items[it.Short]
		if !listed {
			wantScore = it.Points
		}
		if got.Score != wantScore {
			t.Errorf("item %s: %g, want %g; checks: %+v", it.Short, got.Score, wantScore, got.Checks)
		}
		if phrase, ok := exp.Says[it.Short]; ok && !itemSays(got, phrase) {
			t.Errorf("item %s: no message says %q; checks: %+v", it.Short, phrase, got.Checks)
		}
	}
}

func itemSays(it grade.ItemResult, phrase string) bool {
	for _, c := range it.Checks {
		if !c.Passed && strings.Contains(c.Message, phrase) {
			return true
		}
	}
	return false
}

func readExpected(t *testing.T, path string) map[string]expectation {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]expectation
	if err := yaml.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return want
}

func sampleFolders(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}
