package grade

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"kmodgrade/grader/build"
	"kmodgrade/grader/check"
	"kmodgrade/grader/kernel"
	"kmodgrade/grader/kmod"
	"kmodgrade/grader/rubric"
	"kmodgrade/grader/step"
	"kmodgrade/grader/submission"
	"kmodgrade/grader/vm"
)

// Config says what to grade with.
type Config struct {
	Rubric *rubric.Rubric
	Kernel *kernel.Kernel
	// QEMU is the qemu-system-x86_64 executable.
	QEMU string
	// Accel is "kvm", "tcg", or "auto" to probe whether KVM works.
	Accel string
	// Busybox is a static busybox for the rubric's shell checks.
	Busybox string
	// Agent is a prebuilt guest agent executable; when empty, New builds one
	// from the grader's source.
	Agent string
	// ColdBoots boots every guest from scratch instead of restoring a saved,
	// booted one: the straightforward path, slower and otherwise the same.
	ColdBoots bool
	// LocalAgent, when set, grades on this machine's own running kernel
	// instead of in guests: it is the command line of an agent in its
	// local mode (guest.Local), started once per run as vm.StartLocal
	// says. Kernel then needs only its headers, those of the running
	// kernel.
	LocalAgent []string
	// Log, when set, receives each step and the exact make and QEMU
	// command lines (-v).
	Log func(format string, args ...any)
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		c.Log(format, args...)
	}
}

// Grader grades submissions against one rubric and reference.
type Grader struct {
	cfg    *Config
	work   string
	plan   *check.Plan
	initrd string // the guest's initramfs: the agent and a shell
	// snapMu guards snapshot and fromCache. Guests are restored straight
	// from a saved guest in the cache when there is one (fromCache names it),
	// and it is replaced by a fresh one if a guest does not start from it.
	snapMu    sync.Mutex
	snapshot  *vm.Snapshot
	fromCache string
	key       string // the saved guest's vm.Key
	vm        *vm.Config
	build     *build.Config
	ref       *check.Evidence

	mu       sync.Mutex
	prebuilt map[string]prebuilt // by submission id, from Prebuild
}

// prebuilt is a submission built ahead by Prebuild.
type prebuilt struct {
	mod  *build.Module
	err  error
	took time.Duration
}

// New prepares a grader: it builds the guest agent and the base initramfs,
// and settles whether guests run under KVM or TCG.
func New(ctx context.Context, cfg *Config) (*Grader, error) {
	removeStale()
	work, err := os.MkdirTemp("", fmt.Sprintf("kmodgrade-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	g := &Grader{cfg: cfg, work: work, plan: cfg.Rubric.Plan()}
	g.build = &build.Config{Headers: cfg.Kernel.Headers, Release: cfg.Kernel.Release,
		ProcOpsCompat: cfg.Rubric.ProcOpsCompat, Timeout: cfg.Rubric.BuildTimeout, MemoryMB: 4096, Log: cfg.Log}
	if cfg.LocalAgent != nil {
		g.vm = &vm.Config{Accel: "host", BootTimeout: cfg.Rubric.BootTimeout, Log: cfg.Log}
		return g, nil
	}
	agent := cfg.Agent
	if agent == "" {
		agent, err = vm.BuildAgent(work)
	}
	if err != nil {
		g.Close()
		return nil, err
	}
	channel, err := vm.FindChannel(cfg.Kernel.Headers, cfg.Kernel.Modules)
	if err != nil {
		cfg.logf("the agent talks to the host over a serial port, several times slower than a virtio port: %v", err)
	}
	ir, err := vm.NewInitramfs(agent, cfg.Busybox, channel)
	if err == nil {
		g.initrd, err = ir.Write(work)
	}
	if err != nil {
		g.Close()
		return nil, err
	}
	g.vm = &vm.Config{QEMU: cfg.QEMU, Kernel: cfg.Kernel.Image, Accel: cfg.Accel, MemoryMB: 256, Virtio: ir.Virtio,
		BootTimeout: cfg.Rubric.BootTimeout, Log: cfg.Log}
	if g.vm.Accel == "auto" || g.vm.Accel == "" {
		accel, why := g.chooseAccel(ctx)
		g.cfg.logf("guests run under %s: %s", accel, why)
		g.vm.Accel = accel
	}
	if !cfg.ColdBoots {
		g.saveGuest(ctx)
	}
	return g, nil
}

// chooseAccel probes whether guests run under KVM here (vm.ChooseAccel),
// and remembers the answer for a day in the cache: where KVM hangs, the
// probe waits out its deadline, which every self-check would pay. The
// answer is kept per QEMU executable and host kernel, so that an upgrade of
// either probes again; grader doctor always probes.
func (g *Grader) chooseAccel(ctx context.Context) (string, string) {
	file := ""
	if key, err := accelKey(g.vm.QEMU); err == nil {
		file = filepath.Join(kernel.CacheDir(), "accel", key)
		if fi, err := os.Stat(file); err == nil && time.Since(fi.ModTime()) < 24*time.Hour {
			if b, err := os.ReadFile(file); err == nil {
				accel, why, _ := strings.Cut(string(b), "\n")
				if accel == "kvm" || accel == "tcg" {
					return accel, why + " (remembered from " + fi.ModTime().Format(time.DateTime) + ")"
				}
			}
		}
	}
	accel, why := vm.ChooseAccel(ctx, g.vm, g.initrd)
	if file != "" && ctx.Err() == nil && os.MkdirAll(filepath.Dir(file), 0o755) == nil {
		tmp := fmt.Sprintf("%s.%d", file, os.Getpid())
		if os.WriteFile(tmp, []byte(accel+"\n"+why), 0o644) == nil {
			os.Rename(tmp, file)
		}
	}
	return accel, why
}

// accelKey names what the KVM probe's answer depends on: the QEMU
// executable and the host's kernel.
func accelKey(qemu string) (string, error) {
	path, err := exec.LookPath(qemu)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	host, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\n%d\n%d\n%s", path, fi.Size(), fi.ModTime().UnixNano(), host)))
	return hex.EncodeToString(sum[:16]), nil
}

// saveGuest boots one guest and saves it, so that every later guest starts
// from it in a fraction of a boot. The saved guest is kept in the cache
// for the next grader with the same kernel, initramfs and QEMU, which
// restores its guests straight from the cache, as it is: a guest that does
// not start from it has it replaced (see newGuest). Where saving fails,
// guests boot cold.
func (g *Grader) saveGuest(ctx context.Context) {
	if key, err := vm.Key(g.vm, g.initrd); err == nil {
		g.key = key
		if cached := cachedGuest(key); cached != "" {
			g.snapshot, g.fromCache = vm.LoadSnapshot(g.vm, g.initrd, cached), cached
			g.cfg.logf("guests start from the cached saved guest %s", cached)
			return
		}
	}
	path, err := g.statePath()
	if err != nil {
		g.cfg.logf("guests boot cold: %v", err)
		return
	}
	g.saveFresh(ctx, path)
}

// statePath makes the file a saved guest goes in.
func (g *Grader) statePath() (string, error) {
	dir := g.work
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir = "/dev/shm" // restoring from memory is several times faster than from disk
	}
	f, err := os.CreateTemp(dir, fmt.Sprintf("kmodgrade-guest-%d-*.state", os.Getpid()))
	if err != nil {
		return "", err
	}
	f.Close()
	return f.Name(), nil
}

// saveFresh boots a guest, saves it in path, and keeps a copy in the cache.
func (g *Grader) saveFresh(ctx context.Context, path string) {
	snap, err := vm.NewSnapshot(ctx, g.vm, g.initrd, path)
	if err != nil {
		os.Remove(path)
		g.cfg.logf("guests boot cold: saving a booted guest failed: %v", err)
		return
	}
	g.snapshot, g.fromCache = snap, ""
	how := "its memory mapped copy-on-write from " + snap.Memory
	if snap.Memory == "" {
		how = "its memory read whole at each start"
	}
	g.cfg.logf("guests start from a saved guest (%s, saved in %.1fs; %s)", snap.Path, snap.Took.Seconds(), how)
	if g.key != "" {
		keepGuest(snap, g.key)
	}
}

// Workdir is the grader's scratch folder, removed by Close.
func (g *Grader) Workdir() string { return g.work }

// Kernel is the guest kernel the grader uses.
func (g *Grader) Kernel() *kernel.Kernel { return g.cfg.Kernel }

// Close removes the grader's scratch files and its own saved guest.
func (g *Grader) Close() {
	if g.snapshot != nil && g.fromCache == "" {
		g.snapshot.Remove()
	}
	os.RemoveAll(g.work)
}

// newGuest starts a guest: restored from the saved one, or booted. A saved
// guest read from the cache that a guest does not start from (broken, or
// removed by another grader) is replaced with a freshly saved one of this
// grader's own, and the start is tried again.
func (g *Grader) newGuest(ctx context.Context) (*vm.Guest, error) {
	if g.cfg.LocalAgent != nil {
		return vm.StartLocal(ctx, g.vm, g.cfg.LocalAgent)
	}
	g.snapMu.Lock()
	snap, cached := g.snapshot, g.fromCache
	g.snapMu.Unlock()
	if snap == nil {
		return vm.Start(ctx, g.vm, g.initrd)
	}
	guest, err := snap.Start(ctx)
	if err == nil || cached == "" || ctx.Err() != nil {
		return guest, err
	}
	g.snapMu.Lock()
	if g.snapshot == snap { // not replaced yet by another worker
		g.cfg.logf("the cached saved guest %s does not start (%v): saving a new one", cached, err)
		dropGuest(cached)
		g.snapshot, g.fromCache = nil, ""
		if path, err := g.statePath(); err == nil {
			g.saveFresh(ctx, path)
		}
	}
	g.snapMu.Unlock()
	return g.newGuest(ctx)
}

// Accel says whether guests run under "kvm" or "tcg", or "host" when
// grading runs on this machine's own kernel.
func (g *Grader) Accel() string { return g.vm.Accel }

// ErrReference means the reference module did not score full marks: the
// environment or the rubric is broken, and grading students would be unfair.
var ErrReference = errors.New("the reference did not score full marks")

// Reference builds and runs the reference module and judges it against
// itself and the rubric's literal expectations. It must score full marks.
func (g *Grader) Reference(ctx context.Context, dir string) (*Result, error) {
	res := &Result{ID: "reference", Path: dir, Rubric: g.cfg.Rubric.Name, MaxScore: g.cfg.Rubric.MaxScore()}
	mod, err := build.Build(ctx, g.build, dir, filepath.Join(g.work, "reference"))
	if err != nil {
		var be *build.Error
		if errors.As(err, &be) {
			return nil, fmt.Errorf("%w: it did not build: %s\n%s", ErrReference, be.Reason, be.Output)
		}
		return nil, err
	}
	ev, _, err := g.observe(ctx, mod, nil)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	g.ref = ev
	res.finish(mod, Judge(g.cfg.Rubric, ev, ev))
	if res.Score < res.MaxScore {
		return res, fmt.Errorf("%w (%g/%g):\n%s", ErrReference, res.Score, res.MaxScore, lost(res))
	}
	return res, nil
}

// Expectations are the reference's observations under a rubric, recorded
// so that a submission can be graded without the reference's source (a
// student's self-check). They hold for the rubric file they were recorded
// with, byte for byte, and the kernel release.
type Expectations struct {
	Rubric       string          `json:"rubric"`
	RubricSHA256 string          `json:"rubric_sha256"`
	Kernel       string          `json:"kernel"`
	Reference    *check.Evidence `json:"reference"`
}

// Expectations returns what the reference showed, once Reference has run.
func (g *Grader) Expectations() (*Expectations, error) {
	if g.ref == nil {
		return nil, errors.New("the reference has not been graded")
	}
	sum, err := fileSHA256(g.cfg.Rubric.Path)
	if err != nil {
		return nil, err
	}
	return &Expectations{Rubric: g.cfg.Rubric.Name, RubricSHA256: sum, Kernel: g.cfg.Kernel.Release,
		Reference: g.ref}, nil
}

// UseExpectations grades against recorded expectations instead of the
// reference, after checking that they were recorded for this rubric file.
// A different kernel release is allowed: the caller may warn of it.
func (g *Grader) UseExpectations(e *Expectations) error {
	sum, err := fileSHA256(g.cfg.Rubric.Path)
	if err != nil {
		return err
	}
	if e.RubricSHA256 != sum || e.Reference == nil {
		return fmt.Errorf("the expectations were recorded with another version of the rubric %s: "+
			"record them again (grader rubric --record)", g.cfg.Rubric.Path)
	}
	g.ref = e.Reference
	return nil
}

func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// lost lists the failed checks of a result, one per line.
func lost(r *Result) string {
	var b strings.Builder
	for _, it := range r.Items {
		for _, c := range it.Checks {
			if !c.Passed {
				fmt.Fprintf(&b, "  %s / %s: %s\n", it.Name, c.Name, c.Message)
			}
		}
	}
	return b.String()
}

// Grade builds, runs and judges one submission. Problems of the submission
// become scores and messages; only a failure of the grader itself (QEMU
// will not start, the disk is full) is the Result's Error.
func (g *Grader) Grade(ctx context.Context, sub submission.Submission) *Result {
	res := &Result{ID: sub.ID, Path: sub.Path, Rubric: g.cfg.Rubric.Name, Name: sub.Name,
		ParticipantID: sub.ParticipantID, MaxScore: g.cfg.Rubric.MaxScore()}
	if sub.Problem != "" {
		res.Status = StatusBadUpload
		res.Items = failAll(g.cfg.Rubric, "the upload could not be graded: "+sub.Problem)
		return res
	}
	if g.ref == nil {
		panic("grade: Grade called before Reference")
	}
	var early *earlyGuest
	if !g.cfg.ColdBoots && !g.isPrebuilt(sub.ID) && g.cfg.LocalAgent == nil {
		// Restore the first guest while the module builds: half of a
		// single submission's wait, as both take about a second.
		early = g.startEarly(ctx)
		defer early.discard()
	}
	start := time.Now()
	mod, took, err := g.built(ctx, sub)
	res.Timing = &Timing{Build: took}
	var be *build.Error
	switch {
	case errors.As(err, &be):
		res.Status, res.Build = StatusBuildFailed, be.Output
		res.Items = failAll(g.cfg.Rubric, "the module did not build: "+be.Reason)
		return res
	case err != nil:
		return res.fail(g.cfg.Rubric, err)
	}
	ev, timing, err := g.observe(ctx, mod, early)
	if err != nil {
		return res.fail(g.cfg.Rubric, err)
	}
	start = time.Now()
	res.finish(mod, Judge(g.cfg.Rubric, ev, g.ref))
	timing.Build, timing.Judge = res.Timing.Build, time.Since(start)
	res.Timing = timing
	return res
}

// Prebuild builds many submissions ahead, with few runs of kbuild (see
// build.BuildAll), so that Grade finds them built. The straightforward path
// (ColdBoots) builds each submission alone instead.
func (g *Grader) Prebuild(ctx context.Context, subs []submission.Submission) {
	if g.cfg.ColdBoots || len(subs) < 2 {
		return
	}
	var jobs []build.Job
	for _, s := range subs {
		if s.Problem == "" {
			jobs = append(jobs, build.Job{ID: s.ID, Src: s.Path})
		}
	}
	start := time.Now()
	out := build.BuildAll(ctx, g.build, jobs, filepath.Join(g.work, "prebuild"))
	each := time.Since(start) / time.Duration(max(len(jobs), 1))
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.prebuilt == nil {
		g.prebuilt = map[string]prebuilt{}
	}
	for id, o := range out {
		g.prebuilt[id] = prebuilt{mod: o.Module, err: o.Err, took: each}
	}
}

// isPrebuilt says whether Prebuild built the submission.
func (g *Grader) isPrebuilt(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.prebuilt[id]
	return ok
}

// earlyGuest is a guest started ahead of its need, taken at most once.
type earlyGuest struct {
	once    sync.Once
	started chan startedGuest
}

type startedGuest struct {
	guest *vm.Guest
	err   error
}

// startEarly starts a guest in the background.
func (g *Grader) startEarly(ctx context.Context) *earlyGuest {
	e := &earlyGuest{started: make(chan startedGuest, 1)}
	go func() {
		guest, err := g.newGuest(ctx)
		e.started <- startedGuest{guest, err}
	}()
	return e
}

// take waits for the guest; ok is false if it was taken or discarded.
func (e *earlyGuest) take() (s startedGuest, ok bool) {
	e.once.Do(func() { s, ok = <-e.started, true })
	return s, ok
}

// discard stops the guest unless it was taken.
func (e *earlyGuest) discard() {
	if s, ok := e.take(); ok && s.guest != nil {
		s.guest.Close()
	}
}

// built returns the submission's module, built ahead or now, and the time
// its build took (its share, for one built with others).
func (g *Grader) built(ctx context.Context, sub submission.Submission) (*build.Module, time.Duration, error) {
	g.mu.Lock()
	p, ok := g.prebuilt[sub.ID]
	delete(g.prebuilt, sub.ID)
	g.mu.Unlock()
	if ok {
		return p.mod, p.took, p.err
	}
	start := time.Now()
	mod, err := build.Build(ctx, g.build, sub.Path, filepath.Join(g.work, "build", sub.ID))
	return mod, time.Since(start), err
}

func (r *Result) finish(mod *build.Module, items []ItemResult) {
	r.Status, r.Module, r.Build, r.Items = StatusGraded, mod.Name, mod.Output, items
	r.Score = total(items)
}

func (r *Result) fail(rb *rubric.Rubric, err error) *Result {
	r.Status, r.Error = StatusError, err.Error()
	r.Items = failAll(rb, "not graded: "+err.Error())
	return r
}

// observe runs the plan on a built module and collects the evidence. Its
// first guest is early's, if given.
func (g *Grader) observe(ctx context.Context, mod *build.Module, early *earlyGuest) (*check.Evidence, *Timing, error) {
	start := time.Now()
	ko, err := kmod.Open(mod.Path)
	if err != nil {
		return nil, nil, err
	}
	stripped, err := strip(mod.Path)
	if err != nil {
		return nil, nil, err
	}
	r := &runner{g: g, mod: mod, ko: gzipped(stripped), early: early, ev: &check.Evidence{
		Module: mod.Name, Ko: ko, Obs: map[string]*step.Observation{}, Runs: map[string]*check.RunRecord{}}}
	defer r.close()
	for _, run := range g.plan.Runs {
		if err := r.run(ctx, run); err != nil {
			return nil, nil, err
		}
	}
	r.timing.Steps = time.Since(start) - r.timing.Guests
	return r.ev, &r.timing, nil
}

// strip returns the module without its debug information, which the guest
// does not need: a tenth of the size to send. The host keeps the full .ko
// to name functions and lines.
func strip(ko string) ([]byte, error) {
	out := ko + ".stripped"
	if err := exec.Command("objcopy", "--strip-debug", ko, out).Run(); err != nil {
		return os.ReadFile(ko) // no binutils: send it whole
	}
	defer os.Remove(out)
	return os.ReadFile(out)
}

// gzipped compresses a module for a put step (step.Step.Gzip): a module is
// mostly zeros and repeated names, and about a third of its size compressed.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// removeStale deletes the scratch folders and saved guests of graders that
// were killed before they could (their names carry the process id): a
// saved guest is over 100 MB of memory in /dev/shm.
func removeStale() {
	var stale []string
	for _, pattern := range []string{
		filepath.Join(os.TempDir(), "kmodgrade-[0-9]*-*"),
		"/dev/shm/kmodgrade-guest-[0-9]*-*.state*",
	} {
		matches, _ := filepath.Glob(pattern)
		stale = append(stale, matches...)
	}
	for _, p := range stale {
		var pid int
		name := strings.TrimPrefix(filepath.Base(p), "kmodgrade-")
		name = strings.TrimPrefix(name, "guest-")
		if _, err := fmt.Sscanf(name, "%d-", &pid); err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(p)
		}
	}
}
