package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// entry is one entry of an archive built for a test.
type entry struct {
	name string
	body string
	// typ is a tar type flag (tar.TypeReg when zero); zip entries get the
	// mode that stands for it.
	typ byte
	// zeros, when set, makes the body that many zero bytes: an archive
	// bomb, since zeros compress to almost nothing.
	zeros int64
}

func (e entry) reader() io.Reader {
	if e.zeros > 0 {
		return io.LimitReader(zeroReader{}, e.zeros)
	}
	return strings.NewReader(e.body)
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// writeArchive writes entries as an archive of the kind path's name says.
func writeArchive(t *testing.T, path string, entries []entry) {
	t.Helper()
	var b bytes.Buffer
	switch Kind(path) {
	case "zip":
		writeZip(t, &b, entries)
	case "tar":
		writeTar(t, &b, entries)
	case "tar.gz":
		zw := gzip.NewWriter(&b)
		writeTar(t, zw, entries)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("no archive kind for %s", path)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeZip(t *testing.T, w io.Writer, entries []entry) {
	t.Helper()
	zw := zip.NewWriter(w)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		switch e.typ {
		case tar.TypeDir:
			fh.SetMode(fs.ModeDir | 0o755)
		case tar.TypeSymlink, tar.TypeLink:
			fh.SetMode(fs.ModeSymlink | 0o777)
		case tar.TypeChar:
			fh.SetMode(fs.ModeDevice | fs.ModeCharDevice | 0o644)
		default:
			fh.SetMode(0o644)
		}
		f, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, e.reader()); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeTar(t *testing.T, w io.Writer, entries []entry) {
	t.Helper()
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Format: tar.FormatGNU}
		switch e.typ {
		case 0, tar.TypeReg:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
			if e.zeros > 0 {
				h.Size = e.zeros
			}
		case tar.TypeDir:
			h.Mode = 0o755
		case tar.TypeSymlink, tar.TypeLink:
			h.Linkname = e.body
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, e.reader()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// tree lists every file, link and device below dir by its slash-separated
// relative name: a regular file with its contents, anything else with its
// type.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !d.Type().IsRegular() {
			got[filepath.ToSlash(rel)] = "not regular: " + d.Type().String()
			return nil
		}
		b, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestKind(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"project.zip", "zip"},
		{"PROJECT.ZIP", "zip"},
		{"module.tar.gz", "tar.gz"},
		{"module.TGZ", "tar.gz"},
		{"module.tar", "tar"},
		{"module.gz", ""},
		{"project.c", ""},
		{"zip", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Kind(tt.name); got != tt.want {
				t.Errorf("Kind(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

// nested is the same small module as a tree of entries.
var nested = []entry{
	{name: "project/", typ: tar.TypeDir},
	{name: "project/Makefile", body: "obj-m := project.o\n"},
	{name: "project/project.c", body: "int x;\n"},
	{name: "project/include/deep/p.h", body: "#define P 1\n"},
}

var nestedTree = map[string]string{
	"project/Makefile":         "obj-m := project.o\n",
	"project/project.c":        "int x;\n",
	"project/include/deep/p.h": "#define P 1\n",
}

func TestExtract(t *testing.T) {
	const mib = 1 << 20
	ok := entry{name: "ok.c", body: "kept\n"}
	tests := []struct {
		name    string
		archive string
		entries []entry
		lim     Limits
		want    map[string]string
		skipped []string // names that must be in Report.Skipped
		err     error
	}{
		{name: "zip with folders", archive: "a.zip", entries: nested, want: nestedTree},
		{name: "tar.gz with folders", archive: "a.tar.gz", entries: nested, want: nestedTree},
		{name: "tar with folders", archive: "a.tar", entries: nested, want: nestedTree},
		{
			name:    "zip paths that leave the folder",
			archive: "a.zip",
			entries: []entry{
				{name: "../up.c", body: "x"},
				{name: "a/../../../up2.c", body: "x"},
				{name: "$ROOT/abs.c", body: "x"},
				{name: "..\\back.c", body: "x"},
				{name: "a\\..\\..\\back2.c", body: "x"},
				{name: "../escaped/", typ: tar.TypeDir},
				ok,
			},
			want: map[string]string{"ok.c": "kept\n"},
			skipped: []string{"../up.c", "a/../../../up2.c", "$ROOT/abs.c", "..\\back.c",
				"a\\..\\..\\back2.c", "../escaped/"},
		},
		{
			name:    "tar.gz paths that leave the folder",
			archive: "a.tar.gz",
			entries: []entry{
				{name: "../up.c", body: "x"},
				{name: "$ROOT/abs.c", body: "x"},
				{name: "..\\back.c", body: "x"},
				{name: "../../escaped", typ: tar.TypeDir},
				ok,
			},
			want:    map[string]string{"ok.c": "kept\n"},
			skipped: []string{"../up.c", "$ROOT/abs.c", "..\\back.c", "../../escaped"},
		},
		{
			name:    "zip symlink",
			archive: "a.zip",
			entries: []entry{{name: "link", body: "/etc/passwd", typ: tar.TypeSymlink}, ok},
			want:    map[string]string{"ok.c": "kept\n"},
			skipped: []string{"link"},
		},
		{
			name:    "zip device",
			archive: "a.zip",
			entries: []entry{{name: "tty", typ: tar.TypeChar}, ok},
			want:    map[string]string{"ok.c": "kept\n"},
			skipped: []string{"tty"},
		},
		{
			name:    "tar links and devices",
			archive: "a.tar.gz",
			entries: []entry{
				{name: "sym", body: "/etc/passwd", typ: tar.TypeSymlink},
				{name: "hard", body: "/etc/passwd", typ: tar.TypeLink},
				{name: "tty", typ: tar.TypeChar},
				ok,
			},
			want:    map[string]string{"ok.c": "kept\n"},
			skipped: []string{"sym", "hard", "tty"},
		},
		{
			name:    "zip bomb",
			archive: "bomb.zip",
			entries: []entry{ok, {name: "zeros.bin", zeros: 10 * mib}},
			lim:     Limits{Files: 10, Bytes: mib},
			want:    map[string]string{"ok.c": "kept\n"},
			err:     ErrLimit,
		},
		{
			name:    "tar.gz bomb",
			archive: "bomb.tar.gz",
			entries: []entry{{name: "zeros.bin", zeros: 10 * mib}},
			lim:     Limits{Files: 10, Bytes: mib},
			want:    map[string]string{},
			err:     ErrLimit,
		},
		{
			name:    "bytes add up over files",
			archive: "a.zip",
			entries: []entry{{name: "a", zeros: mib / 2}, {name: "b", zeros: mib / 2},
				{name: "c", zeros: 2}},
			lim: Limits{Files: 10, Bytes: mib},
			want: map[string]string{"a": strings.Repeat("\x00", mib/2),
				"b": strings.Repeat("\x00", mib/2)},
			err: ErrLimit,
		},
		{
			name:    "too many files",
			archive: "a.tar",
			entries: []entry{{name: "1"}, {name: "2"}, {name: "3"}, {name: "4"}},
			lim:     Limits{Files: 3, Bytes: mib},
			want:    map[string]string{"1": "", "2": "", "3": ""},
			err:     ErrLimit,
		},
		{
			name:    "non-UTF-8 name in zip",
			archive: "a.zip",
			entries: []entry{{name: "dir\xff/caf\xe9.c", body: "int café;\n"}},
			want:    map[string]string{"dir_/caf_.c": "int café;\n"},
		},
		{
			name:    "non-UTF-8 name in tar",
			archive: "a.tar",
			entries: []entry{{name: "caf\xe9.c", body: "int x;\n"}},
			want:    map[string]string{"caf_.c": "int x;\n"},
		},
		{
			name:    "a file where a folder entry is",
			archive: "a.zip",
			entries: []entry{{name: "d/", typ: tar.TypeDir}, {name: "d", body: "x"}, ok},
			want:    map[string]string{"ok.c": "kept\n"},
			skipped: []string{"d"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			src := filepath.Join(root, "in", tt.archive)
			dst := filepath.Join(root, "out", "x", "y", "z", "dst")
			if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
				t.Fatal(err)
			}
			entries := make([]entry, len(tt.entries))
			for i, e := range tt.entries {
				e.name = strings.ReplaceAll(e.name, "$ROOT", root)
				entries[i] = e
			}
			writeArchive(t, src, entries)
			lim := tt.lim
			if lim.Files == 0 && lim.Bytes == 0 && lim.Group == nil {
				lim = DefaultLimits
			}

			rep, err := Extract(src, dst, lim)

			if tt.err == nil && err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("Extract: got error %v, want %v", err, tt.err)
			}
			if got := tree(t, dst); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("unpacked %q, want %q", names(got), names(tt.want))
			}
			for name, body := range tree(t, root) {
				if !strings.HasPrefix(name, "out/x/y/z/dst/") && name != "in/"+tt.archive {
					t.Errorf("%s (%d bytes) was written outside the destination", name, len(body))
				}
			}
			for _, s := range tt.skipped {
				s = strings.ReplaceAll(s, "$ROOT", root)
				if !hasPrefix(rep.Skipped, s+": ") {
					t.Errorf("Skipped %q lacks %q", rep.Skipped, s)
				}
			}
			if tt.err == nil && len(tt.skipped) == 0 && rep.Files != len(tt.want) {
				t.Errorf("Report.Files = %d, want %d", rep.Files, len(tt.want))
			}
		})
	}
}

func names(m map[string]string) []string {
	var out []string
	for k, v := range m {
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		out = append(out, k+"="+v)
	}
	return out
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func TestExtractNames(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, "a.zip")
	writeArchive(t, src, []entry{{name: "\xfe\xff/caf\xe9.c"}, {name: "ok.c"}})
	dst := filepath.Join(root, "dst")

	if _, err := Extract(src, dst, DefaultLimits); err != nil {
		t.Fatal(err)
	}

	for name := range tree(t, dst) {
		if !utf8.ValidString(name) {
			t.Errorf("%q is not a valid UTF-8 name", name)
		}
	}
}

func TestExtractPerFolder(t *testing.T) {
	const mib = 1 << 20
	var many []entry
	for _, n := range []string{"1", "2", "3", "4"} {
		many = append(many, entry{name: "many/" + n + ".c"})
	}
	tests := []struct {
		name    string
		entries []entry
		over    map[string]string // folder: a part of why
		want    map[string]string
	}{
		{
			name: "bytes",
			entries: []entry{
				{name: "ada/m.c", body: "a"},
				{name: "bomb/", typ: tar.TypeDir},
				{name: "bomb/small.c", body: "b"},
				{name: "bomb/zeros.bin", zeros: 4 * mib},
				{name: "bomb/after.c", body: "b"},
				{name: "cy/m.c", body: "c"},
			},
			over: map[string]string{"bomb": "MiB"},
			want: map[string]string{"ada/m.c": "a", "bomb/small.c": "b", "cy/m.c": "c"},
		},
		{
			name: "files",
			entries: append(append([]entry{{name: "ada/m.c", body: "a"}}, many...),
				entry{name: "cy/m.c", body: "c"}),
			over: map[string]string{"many": "files"},
			want: map[string]string{"ada/m.c": "a", "many/1.c": "", "many/2.c": "", "many/3.c": "",
				"cy/m.c": "c"},
		},
		{
			name: "each folder has its own limit",
			entries: []entry{
				{name: "ada/a", zeros: mib / 2}, {name: "ada/b", zeros: mib / 4},
				{name: "bob/a", zeros: mib / 2}, {name: "bob/b", zeros: mib / 4},
			},
			over: map[string]string{},
			want: map[string]string{
				"ada/a": strings.Repeat("\x00", mib/2), "ada/b": strings.Repeat("\x00", mib/4),
				"bob/a": strings.Repeat("\x00", mib/2), "bob/b": strings.Repeat("\x00", mib/4),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			src := filepath.Join(root, "class.zip")
			writeArchive(t, src, tt.entries)
			dst := filepath.Join(root, "dst")

			rep, err := Extract(src, dst, Limits{Files: 3, Bytes: mib, Group: topFolder})

			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if len(rep.Over) != len(tt.over) {
				t.Errorf("Over = %q, want folders %q", rep.Over, tt.over)
			}
			for folder, why := range tt.over {
				if !strings.Contains(rep.Over[folder], why) ||
					!strings.Contains(rep.Over[folder], ErrLimit.Error()) {
					t.Errorf("Over[%q] = %q, want it to say %q", folder, rep.Over[folder], why)
				}
			}
			if got := tree(t, dst); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("unpacked %q, want %q", names(got), names(tt.want))
			}
		})
	}
}

func TestExtractCorrupt(t *testing.T) {
	var good bytes.Buffer
	zw := gzip.NewWriter(&good)
	writeTar(t, zw, nested)
	zw.Close()
	junk := []byte("PK\x03\x04 this is not a zip archive at all, only some bytes")
	tests := []struct {
		name    string
		archive string
		data    []byte
	}{
		{"random bytes named .zip", "junk.zip", junk},
		{"empty .zip", "empty.zip", nil},
		{"truncated .tar.gz", "cut.tar.gz", good.Bytes()[:good.Len()/3]},
		{"random bytes named .tar.gz", "junk.tar.gz", junk},
		{"not an archive", "project.c", []byte("int x;\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), tt.archive)
			if err := os.WriteFile(src, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}

			_, err := Extract(src, filepath.Join(t.TempDir(), "dst"), DefaultLimits)

			if err == nil {
				t.Fatal("Extract of a corrupt archive gave no error")
			}
			if !strings.Contains(err.Error(), tt.archive) {
				t.Errorf("error %q does not name %s", err, tt.archive)
			}
		})
	}
}

// topFolder groups entries by their top-level folder.
func topFolder(name string) string {
	top, _, _ := strings.Cut(name, "/")
	return top
}
