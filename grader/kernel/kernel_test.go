package kernel

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"6.1.0-9-amd64", "6.1.0-57-amd64", true},
		{"6.1.0-57-amd64", "6.1.0-9-amd64", false},
		{"5.10.0-30-amd64", "6.1.0-1-amd64", true},
		{"6.1.0-57-amd64", "6.1.0-57-amd64", false},
	} {
		if got := versionLess(tc.a, tc.b); got != tc.less {
			t.Errorf("versionLess(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

func TestHeadersRelease(t *testing.T) {
	dir := t.TempDir()
	if _, err := HeadersRelease(dir); err == nil {
		t.Error("a folder without utsrelease.h has a release")
	}
	os.MkdirAll(filepath.Join(dir, "include/generated"), 0o755)
	os.WriteFile(filepath.Join(dir, "include/generated/utsrelease.h"),
		[]byte("#define UTS_RELEASE \"6.1.0-57-amd64\"\n"), 0o644)
	if rel, err := HeadersRelease(dir); err != nil || rel != "6.1.0-57-amd64" {
		t.Errorf("HeadersRelease = %q, %v", rel, err)
	}
}

func TestImageRelease(t *testing.T) {
	dir := t.TempDir()
	// A bzImage's setup header: "HdrS" at 0x202 and, at 0x20e, the offset
	// (less 0x200) of the version string.
	img := make([]byte, 0x400)
	copy(img[0x202:], "HdrS")
	img[0x20e] = 0x00
	img[0x20f] = 0x01 // version at 0x100 + 0x200
	copy(img[0x300:], "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP\x00")
	path := filepath.Join(dir, "vmlinuz")
	os.WriteFile(path, img, 0o644)
	if rel, err := ImageRelease(path); err != nil || rel != "6.1.0-57-amd64" {
		t.Errorf("ImageRelease = %q, %v", rel, err)
	}

	os.WriteFile(path, make([]byte, 0x400), 0o644)
	if _, err := ImageRelease(path); err == nil || !strings.Contains(err.Error(), "not a bzImage") {
		t.Errorf("a file that is no bzImage: %v", err)
	}
}

// TestFindMismatch checks that an image and headers of different releases
// are refused, since the guest would refuse every module.
func TestFindMismatch(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, filepath.Join(dir, "vmlinuz"), "6.1.0-9-amd64")
	writeHeaders(t, filepath.Join(dir, "h"), "6.1.0-57-amd64")
	_, err := Find(filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "h"))
	if err == nil || !strings.Contains(err.Error(), "they must match") {
		t.Errorf("Find with mismatched releases: %v", err)
	}
}

// writeImage writes just enough of a bzImage's setup header to carry rel.
func writeImage(t *testing.T, path, rel string) {
	t.Helper()
	img := make([]byte, 0x400)
	copy(img[0x202:], "HdrS")
	img[0x20f] = 0x01
	copy(img[0x300:], rel+" #1\x00")
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeHeaders writes the file that names a kbuild tree's release.
func writeHeaders(t *testing.T, dir, rel string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "include/generated"), 0o755)
	err := os.WriteFile(filepath.Join(dir, "include/generated/utsrelease.h"),
		[]byte("#define UTS_RELEASE \""+rel+"\"\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
}

// TestRunning checks when the running kernel can be a guest kernel, and
// that each reason it cannot says how to fix it.
func TestRunning(t *testing.T) {
	const rel = "6.1.0-57-amd64"
	root := t.TempDir()
	if _, err := runningIn(rel, root); err == nil || !strings.Contains(err.Error(), "no image at") {
		t.Errorf("no image: %v", err)
	}
	writeImage(t, filepath.Join(root, "boot", "vmlinuz-"+rel), rel)
	_, err := runningIn(rel, root)
	if err == nil || !strings.Contains(err.Error(), "install linux-headers-"+rel) {
		t.Errorf("no headers: %v", err)
	}
	writeHeaders(t, filepath.Join(root, "lib", "modules", rel, "build"), rel)
	k, err := runningIn(rel, root)
	if err != nil || k.Release != rel || k.Image != filepath.Join(root, "boot", "vmlinuz-"+rel) {
		t.Errorf("runningIn = %+v, %v", k, err)
	}
}
