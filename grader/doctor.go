package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"kmodgrade/grader/kernel"
	"kmodgrade/grader/rubric"
	"kmodgrade/grader/vm"
)

// finding is one line of the doctor's report.
type finding struct {
	what     string
	ok       bool
	optional bool
	detail   string
	hint     string
}

func doctorCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var setup setupFlags
	setup.register(fs)
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}

	var fnd []finding
	fnd = append(fnd, tool("QEMU", setup.qemu, []string{"--version"}, "apt-get install qemu-system-x86"))
	fnd = append(fnd, sandbox())
	fnd = append(fnd, tool("prlimit", "prlimit", []string{"--version"}, "apt-get install util-linux"))
	fnd = append(fnd, tool("make", "make", []string{"--version"}, "apt-get install make"))
	fnd = append(fnd, tool("C compiler", "gcc", []string{"--version"}, "apt-get install gcc"))
	fnd = append(fnd, tool("Go (builds the guest agent)", "go", []string{"version"}, "install Go 1.26 or later"))
	bb := tool("static busybox (shell checks)", setup.busybox, []string{"--help"}, "apt-get install busybox-static")
	fnd = append(fnd, bb)
	a2l := tool("addr2line (file and line of leaks)", "addr2line", []string{"--version"}, "apt-get install binutils")
	a2l.optional = true
	fnd = append(fnd, a2l)

	image, kdir := setup.kernel, setup.kdir
	if rb, err := rubric.Load(setup.rubric); err == nil && image == "" && kdir == "" {
		image, kdir = rb.KernelImage, rb.KernelHeaders
	}
	k, err := kernel.Find(image, kdir)
	kf := finding{what: "guest kernel", ok: err == nil}
	if err != nil {
		kf.detail = err.Error()
		kf.hint = "make setup (Debian's linux-headers-amd64 and the matching image), or --kernel and --kdir " +
			"naming an image and the headers of the same release"
	} else {
		kf.detail = fmt.Sprintf("image %s and headers %s are both %s", k.Image, k.Headers, k.Release)
	}
	fnd = append(fnd, kf)
	if err == nil {
		fnd = append(fnd, agentChannel(k))
	}
	fnd = append(fnd, selfCheckKernel(image, kdir, k))

	ready := true
	for _, f := range fnd {
		ready = ready && (f.ok || f.optional)
	}
	if ready {
		fnd = append(fnd, accel(ctx, &setup, k))
	}

	failed := 0
	for _, f := range fnd {
		mark := "ok     "
		if !f.ok {
			mark = "MISSING"
			if f.optional {
				mark = "missing"
			} else {
				failed++
			}
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", mark, f.what, f.detail)
		if !f.ok && f.hint != "" {
			fmt.Fprintf(stdout, "        to fix: %s\n", f.hint)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of the things grading needs are missing", failed)
	}
	return nil
}

// tool runs an executable to see that it is there and works.
func tool(what, exe string, args []string, hint string) finding {
	path, err := exec.LookPath(exe)
	if err != nil {
		return finding{what: what, detail: exe + " not found", hint: hint}
	}
	out, _ := exec.Command(path, args...).CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return finding{what: what, ok: true, detail: path + ": " + first}
}

// sandbox checks that bubblewrap can make the namespaces builds run in.
func sandbox() finding {
	f := finding{what: "bubblewrap (build sandbox)", hint: "apt-get install bubblewrap; it needs user " +
		"namespaces, or root"}
	path, err := exec.LookPath("bwrap")
	if err != nil {
		f.detail = "bwrap not found"
		return f
	}
	out, err := exec.Command(path, "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin",
		"/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "true").CombinedOutput()
	if err != nil {
		f.detail = fmt.Sprintf("%s cannot make a sandbox: %v: %s", path, err, strings.TrimSpace(string(out)))
		return f
	}
	f.ok, f.detail = true, path+" makes sandboxes"
	return f
}

// agentChannel says whether the guest agent talks over a virtio port or,
// without the guest kernel's virtio drivers, over the slower serial port.
func agentChannel(k *kernel.Kernel) finding {
	f := finding{what: "guest agent's channel", optional: true}
	ch, err := vm.FindChannel(k.Headers, k.Modules)
	switch {
	case err != nil:
		f.detail = "the second serial port, several times slower than a virtio port: " + err.Error()
		f.hint = "make setup, which unpacks the virtio drivers next to the kernel image"
	case len(ch.Modules) == 0:
		f.ok, f.detail = true, "a virtio console port (the kernel has its drivers built in)"
	default:
		f.ok, f.detail = true, fmt.Sprintf("a virtio console port (its drivers: %d modules in %s)", len(ch.Modules), k.Modules)
	}
	return f
}

// accel boots a guest to see whether KVM works here.
func accel(ctx context.Context, setup *setupFlags, k *kernel.Kernel) finding {
	f := finding{what: "acceleration", optional: true}
	dir, err := os.MkdirTemp("", "kmodgrade-doctor-")
	if err != nil {
		f.detail = err.Error()
		return f
	}
	defer os.RemoveAll(dir)
	agent, err := vm.BuildAgent(dir)
	if err == nil {
		var ir *vm.Initramfs
		ir, err = vm.NewInitramfs(agent, setup.busybox, nil)
		if err == nil {
			var initrd string
			initrd, err = ir.Write(dir)
			if err == nil {
				cfg := &vm.Config{QEMU: setup.qemu, Kernel: k.Image, MemoryMB: 256, BootTimeout: 60 * time.Second}
				a, why := vm.ChooseAccel(ctx, cfg, initrd)
				f.ok = a == "kvm"
				f.detail = fmt.Sprintf("guests run under %s: %s", strings.ToUpper(a), why)
				if a == "tcg" {
					f.detail += "; grading works, more slowly"
					f.hint = "nothing needed; for speed, a machine where KVM works"
					err = checkTCG(ctx, cfg, initrd)
				}
			}
		}
	}
	if err != nil {
		f.ok, f.optional = false, false
		f.detail = err.Error()
	}
	return f
}

// checkTCG boots one guest under TCG, the fallback every grading run relies on.
func checkTCG(ctx context.Context, cfg *vm.Config, initrd string) error {
	c := *cfg
	c.Accel = "tcg"
	g, err := vm.Start(ctx, &c, initrd)
	if err != nil {
		return errors.New("a guest did not boot under TCG either: " + err.Error())
	}
	g.Close()
	return nil
}

// selfCheckKernel says which kernel grader check uses here, and why: the
// flags' or the rubric's, else the one this machine runs if its image and
// headers are at hand, else the packaged default.
func selfCheckKernel(image, kdir string, packaged *kernel.Kernel) finding {
	f := finding{what: "kernel for grader check", ok: true, optional: true}
	if image != "" || kdir != "" {
		f.detail = "the one named by the flags or the rubric, as for grade"
		return f
	}
	own, err := kernel.Running()
	switch {
	case err == nil:
		f.detail = fmt.Sprintf("%s, the one this machine runs (image %s, headers %s)", own.Release, own.Image, own.Headers)
	case packaged != nil:
		f.detail = fmt.Sprintf("%s, the packaged default, since %v", packaged.Release, err)
	default:
		f.ok = false
		f.detail = err.Error()
	}
	return f
}
