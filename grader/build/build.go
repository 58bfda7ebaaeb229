// Package build compiles a submission's kernel module with kbuild against
// the guest kernel's headers, inside a bubblewrap sandbox: no network, a
// read-only view of the system, write access to a scratch copy of the
// submission only, and limits on time, memory and file size.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/go-cmd/cmd"
)

// Config says how to build.
type Config struct {
	// Headers is the kbuild tree of the guest kernel.
	Headers string
	// Timeout bounds the whole build.
	Timeout time.Duration
	// MemoryMB bounds the address space of each process of the build.
	MemoryMB int
	// Release is the kernel release of Headers, named in hints about
	// code written for another kernel.
	Release string
	// ProcOpsCompat lets proc_create take a pre-5.6 file_operations table
	// (see compat/linux/proc_fs.h).
	ProcOpsCompat bool
	// Log, when set, receives the exact command line of each build.
	Log func(format string, args ...any)
}

// Module is a built kernel module.
type Module struct {
	Name string // as the kernel knows it
	Path string // the .ko
	Spec *Spec
	// Output is what the compiler printed, warnings included.
	Output string
}

// Error is a build that failed for a reason the submission can fix; Output
// holds the compiler's messages.
type Error struct {
	Reason string
	Output string
}

func (e *Error) Error() string { return e.Reason }

// Limits on what is copied from a submission into the scratch folder.
const (
	maxFiles     = 200
	maxFileBytes = 4 << 20
	maxOutput    = 64 << 10
	// sandboxDir is where the scratch copy appears inside the sandbox.
	sandboxDir = "/build"
)

// Build copies the submission in src to scratch (which must not exist yet)
// and builds it there. A failure the student can act on is an *Error.
func Build(ctx context.Context, cfg *Config, src, scratch string) (*Module, error) {
	spec, err := prepare(cfg, src, scratch, sandboxDir, "")
	if err != nil {
		return nil, err
	}
	out, err := run(ctx, cfg, scratch, false)
	out = tidyOutput(out, sandboxDir+"/")
	return finish(cfg, spec, scratch, out, err)
}

// prepare copies a submission into scratch, which the sandbox sees as dir,
// and writes the grader's own Kbuild file there. With alias set, the Kbuild
// file builds the module under that name instead of its own (see BuildAll).
func prepare(cfg *Config, src, scratch, dir, alias string) (*Spec, error) {
	spec, err := FindSpec(src)
	if err != nil {
		return nil, &Error{Reason: err.Error()}
	}
	if err := copySources(src, scratch); err != nil {
		return nil, err
	}
	kbuild := spec.Kbuild()
	if alias != "" {
		renamed := *spec
		renamed.Module = alias
		kbuild = renamed.Kbuild()
	}
	if cfg.ProcOpsCompat {
		lines, err := writeCompat(scratch, dir)
		if err != nil {
			return nil, err
		}
		kbuild += lines
	}
	if err := os.WriteFile(filepath.Join(scratch, "Kbuild"), []byte(kbuild), 0o644); err != nil {
		return nil, err
	}
	for _, o := range spec.Objects {
		c := strings.TrimSuffix(o, ".o") + ".c"
		if _, err := os.Stat(filepath.Join(scratch, c)); err != nil {
			reason := fmt.Sprintf("%s names %s, but there is no %s", spec.From, o, c)
			if ko, _ := filepath.Glob(filepath.Join(src, "*.ko")); len(ko) > 0 {
				reason += " (a prebuilt .ko is not graded: submit the module's sources)"
			}
			return nil, &Error{Reason: reason}
		}
	}
	return spec, nil
}

// finish turns make's outcome into a Module or an Error.
func finish(cfg *Config, spec *Spec, scratch, out string, err error) (*Module, error) {
	ko := filepath.Join(scratch, spec.Module+".ko")
	if err != nil {
		return nil, &Error{Reason: reason(err, out, cfg), Output: out}
	}
	if _, statErr := os.Stat(ko); statErr != nil {
		return nil, &Error{Reason: "make finished but produced no " + spec.Module + ".ko", Output: out}
	}
	return &Module{Name: strings.ReplaceAll(spec.Module, "-", "_"), Path: ko, Spec: spec, Output: out}, nil
}

// copySources copies the regular files of src, leaving out the submission's
// own build files and anything already built, which the grader never trusts.
func copySources(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	count := 0
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if rel != "." && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || skipFile(d.Name()) {
			return nil
		}
		if count++; count > maxFiles {
			return &Error{Reason: fmt.Sprintf("the submission has more than %d files", maxFiles)}
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
}

func skipFile(name string) bool {
	switch name {
	case "Makefile", "makefile", "GNUmakefile", "Kbuild":
		return true
	}
	for _, ext := range []string{".o", ".ko", ".mod", ".mod.c", ".cmd", ".symvers", ".order"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	n, err := io.Copy(out, io.LimitReader(in, maxFileBytes+1))
	if err != nil {
		return err
	}
	if n > maxFileBytes {
		return &Error{Reason: fmt.Sprintf("%s is larger than %d MiB", filepath.Base(src), maxFileBytes>>20)}
	}
	return out.Close()
}

// Command returns the command line that builds the module in scratch. With
// many set, scratch holds many modules, each in a folder of its own: make
// then runs as many jobs as there are cores, goes on past errors, and only
// warns of symbols no module exports (so that one module's mistake does not
// stop the others at the last step; see BuildAll).
func (c *Config) Command(scratch string, many bool) []string {
	headers, err := filepath.EvalSymlinks(c.Headers)
	if err != nil {
		headers = c.Headers
	}
	limits := []string{"prlimit",
		fmt.Sprintf("--as=%d", int64(c.MemoryMB)<<20),
		fmt.Sprintf("--fsize=%d", 256<<20),
		fmt.Sprintf("--cpu=%d", int(c.Timeout.Seconds())+1),
		"--"}
	sandbox := []string{"bwrap",
		"--unshare-all", "--die-with-parent", "--new-session",
		"--ro-bind", "/usr", "/usr",
		"--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
		"--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
		"--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
	}
	if !strings.HasPrefix(headers, "/usr/") {
		// The folder around the headers too: Debian's and Ubuntu's headers
		// link to a sibling folder of common files.
		dir := filepath.Dir(headers)
		sandbox = append(sandbox, "--ro-bind", dir, dir)
	}
	sandbox = append(sandbox,
		"--bind", scratch, sandboxDir, "--chdir", sandboxDir,
		"--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
		"--setenv", "LANG", "C.UTF-8")
	make := []string{"make", "-s", "-C", headers, "M=" + sandboxDir, "modules"}
	if many {
		sandbox = append(sandbox, "--setenv", "KBUILD_MODPOST_WARN", "1")
		make = append(make, "-k", fmt.Sprintf("-j%d", runtime.NumCPU()))
	}
	return append(append(limits, sandbox...), make...)
}

func run(ctx context.Context, cfg *Config, scratch string, many bool) (string, error) {
	args := cfg.Command(scratch, many)
	if cfg.Log != nil {
		cfg.Log("to reproduce: %s", strings.Join(args, " "))
	}
	c := cmd.NewCmdOptions(cmd.Options{Buffered: true, CombinedOutput: true}, args[0], args[1:]...)
	statusC := c.Start()
	var st cmd.Status
	select {
	case st = <-statusC:
	case <-time.After(cfg.Timeout):
		c.Stop()
		st = <-statusC
		return strings.Join(st.Stdout, "\n"), fmt.Errorf("the build did not finish within %v "+
			"(a compile that never ends, or one that the preprocessor blows up?)", cfg.Timeout)
	case <-ctx.Done():
		c.Stop()
		<-statusC
		return "", ctx.Err()
	}
	out := strings.Join(st.Stdout, "\n")
	if st.Error != nil {
		if errors.Is(st.Error, fs.ErrNotExist) || strings.Contains(st.Error.Error(), "executable file not found") {
			return out, fmt.Errorf("failed to start the sandbox: %w (install bubblewrap and util-linux)", st.Error)
		}
		return out, fmt.Errorf("failed to run make: %w", st.Error)
	}
	if st.Exit != 0 {
		return out, fmt.Errorf("make exited %d", st.Exit)
	}
	return out, nil
}

// outOfMemory says whether a line of make's output is a compiler that
// stopped at the build's memory limit: GCC's own words when an allocation
// fails, or its driver's when the kernel killed it.
func outOfMemory(line string) bool {
	return strings.Contains(line, "virtual memory exhausted") ||
		strings.Contains(line, "out of memory allocating") ||
		strings.Contains(line, "Killed signal terminated program")
}

// tidyOutput shortens sandbox paths (prefix) to the student's own file
// names, drops kbuild's chatter about signatures and BTF, and bounds the
// length.
func tidyOutput(out, prefix string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Skipping BTF generation") || strings.TrimSpace(l) == "" {
			continue
		}
		keep = append(keep, strings.ReplaceAll(l, prefix, ""))
	}
	out = strings.Join(keep, "\n")
	if len(out) > maxOutput {
		out = out[:maxOutput] + "\n[output cut at " + fmt.Sprint(maxOutput>>10) + " KiB]"
	}
	return out
}

// reason says why a build failed, naming the compiler's first error and,
// when it looks like code for another kernel version, what changed.
func reason(err error, out string, cfg *Config) string {
	msg := err.Error()
	for _, l := range strings.Split(out, "\n") {
		if outOfMemory(l) {
			msg = fmt.Sprintf("the compiler ran out of memory: the build may use at most %d MiB "+
				"(a compile that the preprocessor blows up?) (%v)", cfg.MemoryMB, err)
			break
		}
		if strings.Contains(l, " error: ") || strings.Contains(l, ": fatal error: ") ||
			strings.HasPrefix(l, "ERROR: modpost: ") {
			msg = fmt.Sprintf("the compiler reported errors, the first: %s (%v)", strings.TrimSpace(l), err)
			break
		}
	}
	if hint := driftHint(out, cfg.Release); hint != "" {
		msg += "; " + hint
	}
	return msg
}
