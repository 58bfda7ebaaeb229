// Package batch grades a class: in parallel, saving each result the moment
// it is known, and skipping submissions whose inputs have not changed since
// they were graded.
package batch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/results"
	"kmodgrade/grader/submission"
)

// Options says how to run a batch.
type Options struct {
	// Jobs is how many submissions are graded at once.
	Jobs int
	// Regrade grades every submission, even those with a fresh result.
	Regrade bool
	// Inputs is the key of what every grade depends on besides the
	// submission itself: rubric, reference and kernel.
	Inputs string
	// Reference is the reference module's folder, graded before the first
	// submission that needs grading.
	Reference string
	// Progress, when set, hears of every submission as it is done.
	Progress Progress
}

// Progress follows a batch.
type Progress interface {
	// Start says how many submissions there are and how many were skipped.
	Start(total, skipped int)
	// Done reports one graded submission.
	Done(r *grade.Result, took time.Duration)
	// Finish ends the report.
	Finish()
}

// Grader is the part of grade.Grader a batch uses.
type Grader interface {
	Reference(ctx context.Context, dir string) (*grade.Result, error)
	Grade(ctx context.Context, sub submission.Submission) *grade.Result
}

// Prebuilder is a Grader that can build many submissions at once, ahead of
// grading them, faster than one at a time.
type Prebuilder interface {
	Prebuild(ctx context.Context, subs []submission.Submission)
}

// Run grades the submissions and returns their results in the same order,
// with the reference's result if it had to be graded (nil otherwise). A
// result is saved in store as soon as it is known; one whose inputs have
// not changed is read back from store instead of graded again.
func Run(ctx context.Context, g Grader, store *results.Store, subs []submission.Submission,
	opt Options) ([]*grade.Result, *grade.Result, error) {
	out := make([]*grade.Result, len(subs))
	keys := make([]string, len(subs))
	var pending []int
	for i, sub := range subs {
		k, err := key(opt.Inputs, sub)
		if err != nil {
			return nil, nil, fmt.Errorf("submission %s: %w", sub.ID, err)
		}
		keys[i] = k
		if r := store.Fresh(sub.ID, k); r != nil && !opt.Regrade {
			out[i] = r
			continue
		}
		pending = append(pending, i)
	}
	if opt.Progress != nil {
		opt.Progress.Start(len(subs), len(subs)-len(pending))
		defer opt.Progress.Finish()
	}
	if len(pending) == 0 {
		return out, nil, nil
	}

	// The class builds while the reference is graded: the reference is
	// one compiler and one guest, which leave cores idle.
	prebuilt := make(chan struct{})
	buildCtx, stopBuild := context.WithCancel(ctx)
	defer stopBuild()
	go func() {
		defer close(prebuilt)
		if pb, ok := g.(Prebuilder); ok {
			var todo []submission.Submission
			for _, i := range pending {
				todo = append(todo, subs[i])
			}
			pb.Prebuild(buildCtx, todo)
		}
	}()
	ref, err := g.Reference(ctx, opt.Reference)
	if err != nil {
		stopBuild()
		<-prebuilt
		return nil, ref, err
	}
	<-prebuilt
	errs := make(chan error, len(pending))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < max(opt.Jobs, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				start := time.Now()
				r := g.Grade(ctx, subs[i])
				if ctx.Err() != nil {
					return // an interrupted grade is not a grade: do not save it
				}
				r.Inputs = keys[i]
				if err := store.Save(r); err != nil {
					errs <- fmt.Errorf("failed to save the result of %s: %w", r.ID, err)
				}
				out[i] = r
				if opt.Progress != nil {
					opt.Progress.Done(r, time.Since(start))
				}
			}
		}()
	}
feed:
	for _, i := range pending {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, ref, err
	}
	if ctx.Err() != nil {
		return nil, ref, ctx.Err()
	}
	return out, ref, nil
}

// key adds the submission's own sources (or its problem) to the inputs.
func key(inputs string, sub submission.Submission) (string, error) {
	h := results.NewHasher()
	h.String("inputs", inputs)
	h.String("problem", sub.Problem)
	if sub.Problem == "" {
		if err := h.Tree("source", sub.Path); err != nil {
			return "", err
		}
	}
	return h.Sum(), nil
}
