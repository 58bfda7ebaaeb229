package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"kmodgrade/grader/grade"
	"kmodgrade/grader/report"
)

// progress shows a batch on stderr: a bar on a terminal, plain lines when
// stderr is a file or a pipe (and under -v, whose lines would tear a bar).
type progress struct {
	mu      sync.Mutex
	log     *logger
	bar     *progressbar.ProgressBar
	start   time.Time
	total   int
	done    int
	failed  int
	pending int
}

func newProgress(w io.Writer, log *logger) *progress {
	p := &progress{log: log}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !log.verbose {
		p.bar = progressbar.NewOptions(0, progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("grading"), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(),
			progressbar.OptionSetWidth(30))
	}
	return p
}

func (p *progress) Start(total, skipped int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.pending, p.start = total, total-skipped, time.Now()
	if skipped > 0 {
		p.log.printf("%d of %d submissions are unchanged since they were graded: not grading them again "+
			"(--regrade does)", skipped, total)
	}
	if p.bar != nil {
		p.bar.ChangeMax(p.pending)
	}
}

func (p *progress) Done(r *grade.Result, took time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if r.Status != grade.StatusGraded {
		p.failed++
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("grading (%d failed)", p.failed))
		p.bar.Add(1)
		return
	}
	left := time.Duration(float64(time.Since(p.start)) / float64(p.done) * float64(p.pending-p.done))
	p.log.printf("[%d/%d] %s: %s/%s %s in %.1fs (failed so far: %d, about %s left)", p.done, p.pending,
		r.ID, report.Num(r.Score), report.Num(r.MaxScore), r.Status, took.Seconds(), p.failed,
		left.Round(time.Second))
}

// printf prints a line above the bar, or as a plain line.
func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	p.log.printf(format, args...)
	if p.bar != nil {
		p.bar.Add(0)
	}
}

func (p *progress) Finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
