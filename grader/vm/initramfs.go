package vm

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cavaliergopher/cpio"

	"kmodgrade/grader/step"
)

// AgentPath is where the agent sits in the guest: the kernel runs it as PID 1.
const AgentPath = "/init"

// Shell is the static busybox that serves the rubric's shell checks.
const Shell = "/bin/busybox"

// shellApplets are linked to busybox in the guest's /bin.
var shellApplets = []string{"sh", "cat", "ls", "echo", "grep", "head", "tail", "wc",
	"dmesg", "lsmod", "sleep", "stat", "test", "tr", "cut", "od", "dd", "printf"}

// Initramfs is the guest's root filesystem: the agent, a shell, and the
// folders the agent mounts on. It holds no module: the host hands the agent
// each module once the guest is up (see step.OpPut), so that one booted
// guest can be saved and serve every submission.
type Initramfs struct {
	base []byte
	// Virtio says that the agent's channel is a virtio console port: a
	// guest of this initramfs must be started with Config.Virtio.
	Virtio bool
}

// NewInitramfs builds the base archive with agent as /init. The agent must
// be a static executable, since the guest has no C library. With channel
// set, the agent talks to the host over a virtio console port, and the
// archive holds the port's drivers.
func NewInitramfs(agent, busybox string, channel *Channel) (*Initramfs, error) {
	if err := checkStatic(agent, "build it with CGO_ENABLED=0"); err != nil {
		return nil, err
	}
	if busybox != "" {
		if err := checkStatic(busybox, "install busybox-static"); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp"} {
		if err := w.WriteHeader(&cpio.Header{Name: d, Mode: cpio.TypeDir | 0o755}); err != nil {
			return nil, err
		}
	}
	if err := addFile(w, agent, AgentPath[1:], 0o755); err != nil {
		return nil, err
	}
	if busybox != "" {
		if err := addFile(w, busybox, Shell[1:], 0o755); err != nil {
			return nil, err
		}
		for _, a := range shellApplets {
			h := &cpio.Header{Name: "bin/" + a, Mode: cpio.TypeSymlink | 0o777, Size: int64(len("busybox"))}
			if err := w.WriteHeader(h); err != nil {
				return nil, err
			}
			if _, err := w.Write([]byte("busybox")); err != nil {
				return nil, err
			}
		}
	}
	if channel != nil {
		if err := addChannel(w, channel); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &Initramfs{base: buf.Bytes(), Virtio: channel != nil}, nil
}

// Write writes the base archive into a new file in dir and returns its path.
func (r *Initramfs) Write(dir string) (string, error) {
	f, err := os.CreateTemp(dir, "initramfs-*.cpio")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(r.base); err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// addChannel adds the marker that names the agent's virtio port, and the
// port's drivers, numbered in load order.
func addChannel(w *cpio.Writer, c *Channel) error {
	for _, d := range []string{"etc", "lib", step.ChannelModules[1:]} {
		if err := w.WriteHeader(&cpio.Header{Name: d, Mode: cpio.TypeDir | 0o755}); err != nil {
			return err
		}
	}
	marker := []byte(VirtioPort + "\n")
	if err := w.WriteHeader(&cpio.Header{Name: step.VirtioMarker[1:], Mode: 0o644, Size: int64(len(marker))}); err != nil {
		return err
	}
	if _, err := w.Write(marker); err != nil {
		return err
	}
	for i, m := range c.Modules {
		name := fmt.Sprintf("%s/%02d-%s", step.ChannelModules[1:], i, filepath.Base(m))
		if err := addFile(w, m, name, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func addFile(w *cpio.Writer, src, name string, mode cpio.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := w.WriteHeader(&cpio.Header{Name: name, Mode: mode, Size: fi.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}

// checkStatic fails for an executable that needs a dynamic loader, which the
// guest does not have.
func checkStatic(path, hint string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, and the guest has no C library: %s", path, hint)
		}
	}
	return nil
}
