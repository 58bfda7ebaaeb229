package submission

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFromUpload finds the module in a subfolder, and in a zip, of an
// upload, without changing the upload itself.
func TestFromUpload(t *testing.T) {
	for _, tt := range []struct {
		name    string
		files   map[string][]byte
		link    bool
		want    string // the module folder, relative to the copy
		problem string
	}{
		{name: "loose", files: map[string][]byte{"Makefile": makefile, "project.c": source}, want: "."},
		{name: "in a folder", files: map[string][]byte{"proj/Makefile": makefile, "proj/project.c": source,
			"README.md": []byte("hi")}, want: "proj"},
		{name: "in a zip", files: map[string][]byte{"project.zip": nil}, want: "project.unpacked/p"},
		{name: "a link", files: map[string][]byte{"Makefile": makefile}, link: true, want: "."},
		{name: "empty", files: map[string][]byte{}, problem: "the upload is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if name == "project.zip" {
					body = zipOf(t, file{name: "p/Makefile", body: makefile}, file{name: "p/p.c", body: source})
				}
				os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
				if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.link {
				os.Symlink("/etc/passwd", filepath.Join(dir, "project.c"))
			}
			work := t.TempDir()
			before, _ := os.ReadDir(dir)

			sub, err := FromUpload(dir, work)

			if err != nil {
				t.Fatal(err)
			}
			if tt.problem != "" {
				if sub.Problem != tt.problem {
					t.Errorf("Problem = %q, want %q", sub.Problem, tt.problem)
				}
				return
			}
			if want := filepath.Join(work, "upload", tt.want); sub.Path != want || sub.Problem != "" {
				t.Errorf("Path = %q (problem %q), want %q", sub.Path, sub.Problem, want)
			}
			if _, err := os.Lstat(filepath.Join(sub.Path, "project.c")); tt.link && err == nil {
				t.Errorf("the link was copied")
			}
			if after, _ := os.ReadDir(dir); len(after) != len(before) {
				t.Errorf("the upload folder changed: %d entries, %d before", len(after), len(before))
			}
		})
	}
}
