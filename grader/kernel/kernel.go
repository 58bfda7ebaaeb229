// Package kernel finds the guest kernel: an image to boot and the headers
// (a kbuild tree) that modules are built against. The two must be of the same
// release, or the guest refuses the modules.
package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kernel is a bootable image with its matching headers.
type Kernel struct {
	Release string // such as "6.1.0-57-amd64"
	Image   string // the bzImage
	Headers string // the kbuild tree, as passed to make -C
	// Modules is the release's modules folder, laid out as
	// /lib/modules/<release> is; empty when there is none. The grader
	// takes only the drivers of the agent's channel from it.
	Modules string
}

// CacheDir is where the setup puts the kernel image and where the grader
// keeps what it can reuse between runs: $KMODGRADE_CACHE, else
// $XDG_CACHE_HOME/kmodgrade, else ~/.cache/kmodgrade.
func CacheDir() string {
	if d := os.Getenv("KMODGRADE_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "kmodgrade")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "kmodgrade")
	}
	return filepath.Join(home, ".cache", "kmodgrade")
}

// ErrNotFound means no usable image or headers were found.
var ErrNotFound = errors.New("not found")

// Find returns the kernel to grade with. image and kdir may each be empty:
// the missing one is looked up by the other's release, and with both empty
// the newest release that has headers in /usr/src and an image in the cache
// or in /boot is taken.
func Find(image, kdir string) (*Kernel, error) {
	switch {
	case image != "" && kdir != "":
		return pair(image, kdir)
	case kdir != "":
		rel, err := HeadersRelease(kdir)
		if err != nil {
			return nil, err
		}
		img := findImage(rel)
		if img == "" {
			return nil, fmt.Errorf("kernel image for %s: %w (looked in %s and /boot)",
				rel, ErrNotFound, imageDir(rel))
		}
		return pair(img, kdir)
	case image != "":
		rel, err := ImageRelease(image)
		if err != nil {
			return nil, err
		}
		hdr := findHeaders(rel)
		if hdr == "" {
			return nil, fmt.Errorf("headers for %s: %w (looked in /usr/src and /lib/modules)", rel, ErrNotFound)
		}
		return pair(image, hdr)
	}
	rels := installedHeaders()
	if len(rels) == 0 {
		return nil, fmt.Errorf("kernel headers: %w in /usr/src", ErrNotFound)
	}
	for _, rel := range rels {
		if img := findImage(rel); img != "" {
			return pair(img, findHeaders(rel))
		}
	}
	return nil, fmt.Errorf("kernel image for %s: %w (looked in %s and /boot)",
		strings.Join(rels, ", "), ErrNotFound, filepath.Dir(imageDir(rels[0])))
}

func pair(image, kdir string) (*Kernel, error) {
	hrel, err := HeadersRelease(kdir)
	if err != nil {
		return nil, err
	}
	irel, err := ImageRelease(image)
	if err != nil {
		return nil, err
	}
	if hrel != irel {
		return nil, fmt.Errorf("kernel image %s is %s but headers %s are %s: they must match",
			image, irel, kdir, hrel)
	}
	return &Kernel{Release: hrel, Image: image, Headers: kdir, Modules: findModules(hrel)}, nil
}

// findModules returns the modules folder of a release: the one the setup
// unpacked next to the image, else the machine's own.
func findModules(rel string) string {
	for _, p := range []string{filepath.Join(imageDir(rel), "modules"), "/lib/modules/" + rel} {
		if fi, err := os.Stat(filepath.Join(p, "kernel")); err == nil && fi.IsDir() {
			return p
		}
	}
	return ""
}

// imageDir is where the setup unpacks the image of a release.
func imageDir(rel string) string {
	return filepath.Join(CacheDir(), "kernels", rel)
}

func findImage(rel string) string {
	for _, p := range []string{
		filepath.Join(imageDir(rel), "vmlinuz-"+rel),
		"/boot/vmlinuz-" + rel,
	} {
		if f, err := os.Open(p); err == nil {
			f.Close()
			return p
		}
	}
	return ""
}

func findHeaders(rel string) string {
	for _, p := range []string{"/usr/src/linux-headers-" + rel, "/lib/modules/" + rel + "/build"} {
		if _, err := HeadersRelease(p); err == nil {
			return p
		}
	}
	return ""
}

// installedHeaders lists the releases with headers in /usr/src, newest first.
func installedHeaders() []string {
	dirs, _ := filepath.Glob("/usr/src/linux-headers-*")
	var rels []string
	for _, d := range dirs {
		if rel, err := HeadersRelease(d); err == nil {
			rels = append(rels, rel)
		}
	}
	sort.Slice(rels, func(i, j int) bool { return versionLess(rels[j], rels[i]) })
	return rels
}

// HeadersRelease reads the release of a kbuild tree: the UTS_RELEASE that
// modules built against it carry in their version magic. (Debian's
// include/config/kernel.release holds the upstream version instead.)
func HeadersRelease(kdir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(kdir, "include/generated/utsrelease.h"))
	if err != nil {
		return "", fmt.Errorf("kernel headers %s: %w", kdir, err)
	}
	_, rel, ok := strings.Cut(string(b), "UTS_RELEASE \"")
	rel, _, ok2 := strings.Cut(rel, "\"")
	if !ok || !ok2 || rel == "" {
		return "", fmt.Errorf("kernel headers %s: no UTS_RELEASE in include/generated/utsrelease.h", kdir)
	}
	return rel, nil
}

// ImageRelease reads the release from a bzImage's setup header, where the
// boot protocol keeps a pointer to the version string.
func ImageRelease(image string) (string, error) {
	f, err := os.Open(image)
	if err != nil {
		return "", fmt.Errorf("kernel image: %w", err)
	}
	defer f.Close()
	hdr := make([]byte, 0x210)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return "", fmt.Errorf("kernel image %s: %w", image, err)
	}
	if string(hdr[0x202:0x206]) != "HdrS" {
		return "", fmt.Errorf("kernel image %s: not a bzImage", image)
	}
	off := int64(binary.LittleEndian.Uint16(hdr[0x20e:])) + 0x200
	ver := make([]byte, 256)
	n, _ := f.ReadAt(ver, off)
	s := string(ver[:n])
	if i := strings.IndexAny(s, " \x00"); i > 0 {
		return s[:i], nil
	}
	return "", fmt.Errorf("kernel image %s: no version string", image)
}

// versionLess orders releases such as 6.1.0-9-amd64 < 6.1.0-57-amd64.
func versionLess(a, b string) bool {
	pa, pb := splitNumbers(a), splitNumbers(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	return len(pa) < len(pb)
}

func splitNumbers(s string) []int {
	var out []int
	n, in := 0, false
	for _, r := range s + "." {
		if r >= '0' && r <= '9' {
			n, in = n*10+int(r-'0'), true
			continue
		}
		if in {
			out = append(out, n)
		}
		n, in = 0, false
	}
	return out
}

// Running returns the kernel this machine runs, as a guest kernel: its
// image /boot/vmlinuz-<release> and its headers /lib/modules/<release>/build.
// On a student's own Linux machine that is the kernel their module is
// meant for. The error says why it cannot be used, for a person.
func Running() (*Kernel, error) {
	rel, err := runningRelease()
	if err != nil {
		return nil, err
	}
	return runningIn(rel, "/")
}

// runningRelease is the release of the kernel this machine runs.
func runningRelease() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "", fmt.Errorf("cannot tell the running kernel's release: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// RunningHeaders returns the kernel this machine runs with its headers and
// no image, for grading on this machine's own kernel (grader check --host).
func RunningHeaders() (*Kernel, error) {
	rel, err := runningRelease()
	if err != nil {
		return nil, err
	}
	headers := filepath.Join("/lib/modules", rel, "build")
	if _, err := HeadersRelease(headers); err != nil {
		return nil, fmt.Errorf("the running kernel %s: no headers at %s (install linux-headers-%s)",
			rel, headers, rel)
	}
	return &Kernel{Release: rel, Headers: headers}, nil
}

// runningIn is Running for a release, with its files under root.
func runningIn(rel, root string) (*Kernel, error) {
	image := filepath.Join(root, "boot", "vmlinuz-"+rel)
	headers := filepath.Join(root, "lib", "modules", rel, "build")
	f, err := os.Open(image)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("the running kernel %s: its image %s is readable by root only "+
			"(sudo chmod a+r %s lets grader check use it)", rel, image, image)
	case err != nil:
		return nil, fmt.Errorf("the running kernel %s: no image at %s", rel, image)
	}
	f.Close()
	if _, err := HeadersRelease(headers); err != nil {
		return nil, fmt.Errorf("the running kernel %s: no headers at %s (install linux-headers-%s)",
			rel, headers, rel)
	}
	return pair(image, headers)
}
