package grade

import (
	"context"

	"kmodgrade/grader/build"
	"kmodgrade/grader/check"
	"kmodgrade/grader/submission"
)

// ObserveBuilt carries out the rubric's runs on a module built elsewhere,
// as Grade does once it has built one. The host-mode test uses it inside a
// guest, which has no compiler, to observe on that guest's own kernel.
func (g *Grader) ObserveBuilt(ctx context.Context, mod *build.Module) (*check.Evidence, error) {
	ev, _, err := g.observe(ctx, mod, nil)
	return ev, err
}

// JudgeEvidence gives the result that Grade gives a submission whose
// module showed ev.
func (g *Grader) JudgeEvidence(sub submission.Submission, mod *build.Module, ev *check.Evidence) *Result {
	res := &Result{ID: sub.ID, Path: sub.Path, Rubric: g.cfg.Rubric.Name, MaxScore: g.cfg.Rubric.MaxScore()}
	res.finish(mod, Judge(g.cfg.Rubric, ev, g.ref))
	return res
}
