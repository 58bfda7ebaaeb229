package batch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/results"
	"kmodgrade/grader/submission"
)

// fakeGrader grades without building or booting anything, and counts.
type fakeGrader struct {
	refErr error
	// during, when set, runs inside Grade: the n-th call (from 1) for sub.
	during func(ctx context.Context, n int, sub submission.Submission)
	// status, when set, is the status given to a submission's result.
	status map[string]string

	mu     sync.Mutex
	calls  int
	refs   int
	graded map[string]int
}

func (g *fakeGrader) Reference(ctx context.Context, dir string) (*grade.Result, error) {
	g.mu.Lock()
	g.refs++
	g.mu.Unlock()
	if g.refErr != nil {
		return nil, g.refErr
	}
	return &grade.Result{ID: "reference", Path: dir, Score: 10, MaxScore: 10,
		Status: grade.StatusGraded}, nil
}

func (g *fakeGrader) Grade(ctx context.Context, sub submission.Submission) *grade.Result {
	g.mu.Lock()
	if g.graded == nil {
		g.graded = map[string]int{}
	}
	g.graded[sub.ID]++
	g.calls++
	n := g.calls
	g.mu.Unlock()
	if g.during != nil {
		g.during(ctx, n, sub)
	}
	status := grade.StatusGraded
	if s := g.status[sub.ID]; s != "" {
		status = s
	}
	return &grade.Result{ID: sub.ID, Path: sub.Path, Score: float64(n), MaxScore: 10, Status: status}
}

// counts returns how many times each submission was graded, and starts
// counting again.
func (g *fakeGrader) counts() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.graded
	g.graded = nil
	if c == nil {
		c = map[string]int{}
	}
	return c
}

// progress records what a batch reports.
type progress struct {
	mu             sync.Mutex
	total, skipped int
	done           []string
	finished       bool
}

func (p *progress) Start(total, skipped int) { p.total, p.skipped = total, skipped }

func (p *progress) Done(r *grade.Result, took time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = append(p.done, r.ID)
}

func (p *progress) Finish() { p.finished = true }

// class makes n submissions, each a folder with a source file.
func class(t *testing.T, n int) []submission.Submission {
	t.Helper()
	var subs []submission.Submission
	for i := range n {
		id := fmt.Sprintf("s%d", i+1)
		dir := filepath.Join(t.TempDir(), id)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "project.c"), "int "+id+";\n")
		subs = append(subs, submission.Submission{ID: id, Path: dir})
	}
	return subs
}

func openStore(t *testing.T) *results.Store {
	t.Helper()
	store, err := results.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func each(subs []submission.Submission, n int) map[string]int {
	m := map[string]int{}
	for _, s := range subs {
		m[s.ID] = n
	}
	return m
}

func TestRunFirst(t *testing.T) {
	subs := class(t, 4)
	store := openStore(t)
	g := &fakeGrader{}
	p := &progress{}

	res, ref, err := Run(context.Background(), g, store, subs, Options{Jobs: 2, Inputs: "v1",
		Reference: "/ref", Progress: p})

	if err != nil {
		t.Fatal(err)
	}
	if got := g.counts(); !reflect.DeepEqual(got, each(subs, 1)) {
		t.Errorf("graded %v, want each once", got)
	}
	if ref == nil || ref.Path != "/ref" || g.refs != 1 {
		t.Errorf("reference %+v graded %d times, want /ref once", ref, g.refs)
	}
	if p.total != 4 || p.skipped != 0 || len(p.done) != 4 || !p.finished {
		t.Errorf("progress %+v, want 4 started, none skipped, 4 done, finished", p)
	}
	for i, s := range subs {
		if res[i] == nil || res[i].ID != s.ID {
			t.Fatalf("result %d is %+v, want %s", i, res[i], s.ID)
		}
		saved, err := store.Load(s.ID)
		if err != nil {
			t.Fatalf("%s not saved: %v", s.ID, err)
		}
		if saved.Inputs == "" || !reflect.DeepEqual(saved, res[i]) {
			t.Errorf("%s saved as %+v, returned as %+v", s.ID, saved, res[i])
		}
	}
}

func TestRunAgain(t *testing.T) {
	tests := []struct {
		name    string
		status  map[string]string // of the first run's results
		change  func(t *testing.T, subs []submission.Submission, opt *Options)
		graded  []string // in the second run
		skipped int
	}{
		{
			name:    "nothing changed",
			change:  func(t *testing.T, subs []submission.Submission, opt *Options) {},
			skipped: 3,
		},
		{
			name: "one file changed",
			change: func(t *testing.T, subs []submission.Submission, opt *Options) {
				write(t, filepath.Join(subs[1].Path, "project.c"), "int changed;\n")
			},
			graded:  []string{"s2"},
			skipped: 2,
		},
		{
			name: "one file added",
			change: func(t *testing.T, subs []submission.Submission, opt *Options) {
				write(t, filepath.Join(subs[2].Path, "Makefile"), "obj-m := project.o\n")
			},
			graded:  []string{"s3"},
			skipped: 2,
		},
		{
			name: "a problem appeared",
			change: func(t *testing.T, subs []submission.Submission, opt *Options) {
				subs[0].Problem = "the upload is empty"
			},
			graded:  []string{"s1"},
			skipped: 2,
		},
		{
			name: "inputs changed",
			change: func(t *testing.T, subs []submission.Submission, opt *Options) {
				opt.Inputs = "v2"
			},
			graded: []string{"s1", "s2", "s3"},
		},
		{
			name: "regrade",
			change: func(t *testing.T, subs []submission.Submission, opt *Options) {
				opt.Regrade = true
			},
			graded: []string{"s1", "s2", "s3"},
		},
		{
			name:    "a grader error is not kept",
			status:  map[string]string{"s3": grade.StatusError},
			change:  func(t *testing.T, subs []submission.Submission, opt *Options) {},
			graded:  []string{"s3"},
			skipped: 2,
		},
		{
			name:    "a build failure is kept",
			status:  map[string]string{"s3": grade.StatusBuildFailed},
			change:  func(t *testing.T, subs []submission.Submission, opt *Options) {},
			skipped: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subs := class(t, 3)
			store := openStore(t)
			g := &fakeGrader{status: tt.status}
			opt := Options{Jobs: 2, Inputs: "v1"}
			first, _, err := Run(context.Background(), g, store, subs, opt)
			if err != nil {
				t.Fatal(err)
			}
			g.counts()
			g.status = nil
			tt.change(t, subs, &opt)
			p := &progress{}
			opt.Progress = p

			res, ref, err := Run(context.Background(), g, store, subs, opt)

			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{}
			for _, id := range tt.graded {
				want[id] = 1
			}
			if got := g.counts(); !reflect.DeepEqual(got, want) {
				t.Errorf("graded %v, want %v", got, want)
			}
			if p.total != 3 || p.skipped != tt.skipped {
				t.Errorf("Start(%d, %d), want Start(3, %d)", p.total, p.skipped, tt.skipped)
			}
			if (ref != nil) != (len(tt.graded) > 0) {
				t.Errorf("reference %+v, want one only if something was graded", ref)
			}
			for i, s := range subs {
				if want[s.ID] == 0 && !reflect.DeepEqual(res[i], first[i]) {
					t.Errorf("%s: got %+v, want the saved %+v", s.ID, res[i], first[i])
				}
				if want[s.ID] == 0 {
					continue
				}
				saved, err := store.Load(s.ID)
				if err != nil || res[i].Score == first[i].Score || !reflect.DeepEqual(saved, res[i]) {
					t.Errorf("%s: regraded as %+v, saved as %+v (%v)", s.ID, res[i], saved, err)
				}
			}
		})
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunInterrupted(t *testing.T) {
	subs := class(t, 5)
	store := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cut string
	g := &fakeGrader{during: func(ctx context.Context, n int, sub submission.Submission) {
		if n == 3 {
			cut = sub.ID
			cancel()
		}
	}}
	opt := Options{Jobs: 1, Inputs: "v1"}

	res, _, err := Run(ctx, g, store, subs, opt)

	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Run = %v, %v; want no results and context.Canceled", res, err)
	}
	first := g.counts()
	if !reflect.DeepEqual(first, map[string]int{"s1": 1, "s2": 1, "s3": 1}) || cut != "s3" {
		t.Fatalf("graded %v before the cancel in %s, want s1, s2 and s3", first, cut)
	}
	for _, s := range subs {
		_, err := store.Load(s.ID)
		if saved := err == nil; saved != (s.ID == "s1" || s.ID == "s2") {
			t.Errorf("%s saved: %v (%v)", s.ID, saved, err)
		}
	}

	res, _, err = Run(context.Background(), g, store, subs, opt)

	if err != nil {
		t.Fatal(err)
	}
	if got := g.counts(); !reflect.DeepEqual(got, map[string]int{"s3": 1, "s4": 1, "s5": 1}) {
		t.Errorf("the rerun graded %v, want s3, s4 and s5", got)
	}
	for i, s := range subs {
		if res[i] == nil || res[i].ID != s.ID {
			t.Errorf("rerun result %d is %+v, want %s", i, res[i], s.ID)
		}
	}
}

func TestRunReferenceFails(t *testing.T) {
	subs := class(t, 3)
	store := openStore(t)
	broken := errors.New("reference: make exited 2")
	g := &fakeGrader{refErr: broken}

	res, _, err := Run(context.Background(), g, store, subs, Options{Jobs: 2, Inputs: "v1"})

	if !errors.Is(err, broken) || res != nil {
		t.Errorf("Run = %v, %v; want no results and the reference's error", res, err)
	}
	if got := g.counts(); len(got) != 0 {
		t.Errorf("graded %v after the reference failed", got)
	}
	if all, err := store.All(); err == nil {
		t.Errorf("saved %d results after the reference failed", len(all))
	}
}

func TestRunParallel(t *testing.T) {
	const jobs = 3
	subs := class(t, 12)
	store := openStore(t)
	// The first jobs grades wait for each other: they end only if that many
	// run at once.
	var arrived sync.WaitGroup
	arrived.Add(jobs)
	together := make(chan struct{})
	go func() { arrived.Wait(); close(together) }()
	g := &fakeGrader{during: func(ctx context.Context, n int, sub submission.Submission) {
		if n > jobs {
			return
		}
		arrived.Done()
		select {
		case <-together:
		case <-time.After(10 * time.Second):
			t.Errorf("%s: %d grades were never running at once", sub.ID, jobs)
		}
	}}

	res, _, err := Run(context.Background(), g, store, subs, Options{Jobs: jobs, Inputs: "v1"})

	if err != nil {
		t.Fatal(err)
	}
	if got := g.counts(); !reflect.DeepEqual(got, each(subs, 1)) {
		t.Errorf("graded %v, want each once", got)
	}
	all, err := store.All()
	if err != nil || len(all) != len(subs) {
		t.Fatalf("saved %d results (%v), want %d", len(all), err, len(subs))
	}
	for i, s := range subs {
		if res[i] == nil || res[i].ID != s.ID {
			t.Errorf("result %d is %+v, want %s", i, res[i], s.ID)
		}
	}
}

func TestRunMissingFolder(t *testing.T) {
	subs := []submission.Submission{{ID: "gone", Path: filepath.Join(t.TempDir(), "gone")}}
	g := &fakeGrader{}

	_, _, err := Run(context.Background(), g, openStore(t), subs, Options{Inputs: "v1"})

	if err == nil || g.refs != 0 {
		t.Errorf("Run of a missing folder: error %v, %d references graded; want an error first",
			err, g.refs)
	}
}
