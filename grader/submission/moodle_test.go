package submission

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// file is one entry of a zip or tar built for a test: a name ending in "/"
// is a folder.
type file struct {
	name string
	body []byte
	// zeros, when set, makes the body that many zero bytes, which deflate
	// to almost nothing: an archive bomb.
	zeros int64
	// link, when set, makes the entry a symbolic link to it (tar only).
	link string
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func zipOf(t *testing.T, files ...file) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = bytes.NewReader(f.body)
		if f.zeros > 0 {
			r = io.LimitReader(zeroReader{}, f.zeros)
		}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tarGzOf(t *testing.T, files ...file) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.link != "" {
			h = &tar.Header{Name: f.name, Mode: 0o777, Linkname: f.link, Typeflag: tar.TypeSymlink}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeClassZip writes a Moodle download holding files into a temp folder.
func writeClassZip(t *testing.T, files ...file) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "class.zip")
	if err := os.WriteFile(p, zipOf(t, files...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	makefile = []byte("obj-m := project.o\n")
	source   = []byte("#include <linux/module.h>\n")
)

// wantSub is what one student's Submission must say. path is relative to
// the unpacked download, and holds the files in has.
type wantSub struct {
	id, name, participant string
	path                  string
	has                   []string
	problem               string // a phrase the Problem must hold, or ""
}

func TestFromMoodleZip(t *testing.T) {
	const (
		ada     = "Ada Lovelace_100_assignsubmission_file"
		alan    = "Alan Turing_101_assignsubmission_file_"
		blind   = "Participant_102_assignsubmission_file"
		grace   = "Grace Hopper_103_assignsubmission_file"
		edsger  = "Edsger Dijkstra_104_assignsubmission_file"
		barbara = "Barbara Liskov_105_assignsubmission_file"
		ken     = "Ken Thompson_106_assignsubmission_file"
		bomb    = "Bomb Person_107_assignsubmission_file"
		dennis  = "Dennis Ritchie_108_assignsubmission_file"
		jose    = "José Núñez_109_assignsubmission_file"
	)
	zipPath := writeClassZip(t,
		file{name: ada + "/Makefile", body: makefile},
		file{name: ada + "/project.c", body: source},
		file{name: alan + "/project.zip", body: zipOf(t,
			file{name: "project/Makefile", body: makefile},
			file{name: "project/project.c", body: source})},
		file{name: blind + "/module.tar.gz", body: tarGzOf(t,
			file{name: "Makefile", body: makefile},
			file{name: "m.c", body: source})},
		file{name: grace + "/__MACOSX/Makefile", body: []byte("\x00\x05\x16\x07")},
		file{name: grace + "/__MACOSX/src/mod/._m.c", body: []byte("\x00\x05\x16\x07")},
		file{name: grace + "/src/mod/Makefile", body: makefile},
		file{name: grace + "/src/mod/m.c", body: source},
		file{name: grace + "/src/notes.txt", body: []byte("notes")},
		file{name: edsger + "/a.c", body: source},
		file{name: edsger + "/b.c", body: source},
		file{name: barbara + "/project.zip", body: []byte("this is not a zip, whatever the name says")},
		file{name: ken + "/"},
		file{name: bomb + "/big.bin", zeros: 80 << 20},
		file{name: dennis + "/README.txt", body: []byte("I ran out of time.\n")},
		file{name: jose + "/Kbuild", body: makefile},
		file{name: jose + "/p.c", body: source},
		file{name: "index.html", body: []byte("<html></html>")},
	)
	want := []wantSub{
		{id: "Ada_Lovelace_100", name: "Ada Lovelace", participant: "100", path: ada,
			has: []string{"Makefile", "project.c"}},
		{id: "Alan_Turing_101", name: "Alan Turing", participant: "101",
			path: alan + "/project.unpacked/project", has: []string{"Makefile", "project.c"}},
		{id: "Barbara_Liskov_105", name: "Barbara Liskov", participant: "105",
			problem: "could not unpack project.zip"},
		{id: "Bomb_Person_107", name: "Bomb Person", participant: "107",
			problem: "larger than allowed"},
		{id: "Dennis_Ritchie_108", name: "Dennis Ritchie", participant: "108",
			problem: "no Makefile, Kbuild file or .c file"},
		{id: "Edsger_Dijkstra_104", name: "Edsger Dijkstra", participant: "104", path: edsger,
			has: []string{"a.c", "b.c"}},
		{id: "Grace_Hopper_103", name: "Grace Hopper", participant: "103", path: grace + "/src/mod",
			has: []string{"Makefile", "m.c"}},
		{id: "José_Núñez_109", name: "José Núñez", participant: "109", path: jose,
			has: []string{"Kbuild", "p.c"}},
		{id: "Ken_Thompson_106", name: "Ken Thompson", participant: "106",
			problem: "the upload is empty"},
		{id: "Participant_102", name: "Participant 102", participant: "102",
			path: blind + "/module.unpacked", has: []string{"Makefile", "m.c"}},
	}
	dir := t.TempDir()

	subs, err := FromMoodleZip(zipPath, dir)

	if err != nil {
		t.Fatal(err)
	}
	checkSubs(t, filepath.Join(dir, "download"), subs, want)
}

func checkSubs(t *testing.T, download string, subs []Submission, want []wantSub) {
	t.Helper()
	var ids []string
	for _, s := range subs {
		ids = append(ids, s.ID)
	}
	if len(subs) != len(want) {
		t.Fatalf("got submissions %q, want %d", ids, len(want))
	}
	for i, w := range want {
		t.Run(w.id, func(t *testing.T) {
			s := subs[i]
			if s.ID != w.id || s.Name != w.name || s.ParticipantID != w.participant {
				t.Fatalf("submission %d is %q (%q, %q), want %q (%q, %q)", i, s.ID, s.Name,
					s.ParticipantID, w.id, w.name, w.participant)
			}
			if w.problem == "" && s.Problem != "" {
				t.Fatalf("Problem = %q, want none", s.Problem)
			}
			if !strings.Contains(s.Problem, w.problem) {
				t.Errorf("Problem = %q, want it to say %q", s.Problem, w.problem)
			}
			if w.problem != "" {
				return
			}
			if wp := filepath.Join(download, w.path); s.Path != wp {
				t.Errorf("Path = %s, want %s", s.Path, wp)
			}
			for _, f := range w.has {
				if _, err := os.Stat(filepath.Join(s.Path, f)); err != nil {
					t.Errorf("Path lacks %s: %v", f, err)
				}
			}
		})
	}
}

func TestFromMoodleZipFlat(t *testing.T) {
	zipPath := writeClassZip(t,
		file{name: "Ada Lovelace_100_assignsubmission_file_project.c", body: source},
		file{name: "Ada Lovelace_100_assignsubmission_file_Makefile", body: makefile},
		// An assignment that takes online text too: the text comes last.
		file{name: "Ada Lovelace_100_assignsubmission_onlinetext_onlinetext.html", body: []byte("<p>done</p>")},
		file{name: "Alan Turing_101_assignsubmission_file_m.c", body: source},
		file{name: "Participant_102_assignsubmission_file_project.zip", body: zipOf(t,
			file{name: "p/Makefile", body: makefile}, file{name: "p/p.c", body: source})},
	)
	dir := t.TempDir()

	subs, err := FromMoodleZip(zipPath, dir)

	if err != nil {
		t.Fatal(err)
	}
	checkSubs(t, filepath.Join(dir, "download"), subs, []wantSub{
		{id: "Ada_Lovelace_100", name: "Ada Lovelace", participant: "100",
			path: "loose/100", has: []string{"Makefile", "project.c"}},
		{id: "Alan_Turing_101", name: "Alan Turing", participant: "101",
			path: "loose/101", has: []string{"m.c"}},
		{id: "Participant_102", name: "Participant 102", participant: "102",
			path: "loose/102/project.unpacked/p",
			has:  []string{"Makefile", "p.c"}},
	})
}

// TestFromMoodleZipFlatBomb checks that the limits apply to each student's
// loose files together, and that a student whose whole upload was past them
// is still listed, with the reason.
func TestFromMoodleZipFlatBomb(t *testing.T) {
	big := make([]byte, 40<<20)
	zipPath := writeClassZip(t,
		file{name: "Ada Lovelace_100_assignsubmission_file_big.bin", body: append(append(append([]byte{}, big...), big...), 'x')},
		file{name: "Alan Turing_101_assignsubmission_file_a.bin", body: big},
		file{name: "Alan Turing_101_assignsubmission_file_b.bin", body: big},
		file{name: "Grace Hopper_102_assignsubmission_file_m.c", body: source},
	)

	subs, err := FromMoodleZip(zipPath, t.TempDir())

	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Ada_Lovelace_100": "larger than allowed",
		"Alan_Turing_101": "larger than allowed", "Grace_Hopper_102": ""}
	if len(subs) != len(want) {
		t.Fatalf("%d submissions, want %d: %+v", len(subs), len(want), subs)
	}
	for _, s := range subs {
		phrase, ok := want[s.ID]
		switch {
		case !ok:
			t.Errorf("unexpected submission %s", s.ID)
		case phrase == "" && s.Problem != "":
			t.Errorf("%s: problem %q, want none", s.ID, s.Problem)
		case phrase != "" && !strings.Contains(s.Problem, phrase):
			t.Errorf("%s: problem %q, want %q", s.ID, s.Problem, phrase)
		}
	}
}

func TestFromMoodleZipErrors(t *testing.T) {
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		want string
	}{
		{
			name: "no Moodle folder",
			data: func(t *testing.T) []byte {
				return zipOf(t, file{name: "project/Makefile", body: makefile},
					file{name: "Ada Lovelace_assignsubmission_file/m.c", body: source})
			},
			want: "no folder named",
		},
		{
			name: "not a zip",
			data: func(t *testing.T) []byte { return []byte("not a zip") },
			want: "class.zip",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "class.zip")
			if err := os.WriteFile(p, tt.data(t), 0o644); err != nil {
				t.Fatal(err)
			}

			subs, err := FromMoodleZip(p, t.TempDir())

			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FromMoodleZip = %d submissions, error %v; want an error saying %q",
					len(subs), err, tt.want)
			}
		})
	}
}

func TestIsMoodleZip(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"class.zip", "class.ZIP", "class.tar.gz"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "folder.zip"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want bool
	}{
		{"class.zip", true},
		{"class.ZIP", true},
		{"class.tar.gz", false},
		{"folder.zip", false},
		{"missing.zip", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsMoodleZip(filepath.Join(dir, tt.name)); got != tt.want {
				t.Errorf("IsMoodleZip(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestSlug(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"Ada Lovelace", "Ada_Lovelace"},
		{"Jean-Luc Picard", "Jean-Luc_Picard"},
		{"José Núñez", "José_Núñez"},
		{"O'Brien, Miles", "O_Brien__Miles"},
		{" ../etc/passwd ", "etc_passwd"},
		{"Participant 7", "Participant_7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slug(tt.name); got != tt.want {
				t.Errorf("slug(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

// TestFromMoodleZipHostileUploads unpacks a class whose uploads try to
// escape their folder or exhaust the grader, and checks that each student
// is graded or refused alone, and that nothing lands outside the folder.
func TestFromMoodleZipHostileUploads(t *testing.T) {
	const (
		escape = "Eve Escape_200_assignsubmission_file"
		link   = "Sym Link_201_assignsubmission_file"
		many   = "Many Files_202_assignsubmission_file"
		utf    = "Non Utf_203_assignsubmission_file"
	)
	var thousands []file
	for i := range 3000 {
		thousands = append(thousands, file{name: fmt.Sprintf("project/f%04d.c", i), body: source})
	}
	zipPath := writeClassZip(t,
		file{name: escape + "/project.zip", body: zipOf(t,
			file{name: "../../../escaped.c", body: source},
			file{name: "/tmp/absolute.c", body: source},
			file{name: "project/Makefile", body: makefile},
			file{name: "project/project.c", body: source})},
		file{name: link + "/project.tar.gz", body: tarGzOf(t,
			file{name: "project/Makefile", body: makefile},
			file{name: "project/project.c", link: "/etc/shadow"},
			file{name: "project/up", link: "../../.."})},
		file{name: many + "/project.zip", body: zipOf(t, thousands...)},
		file{name: utf + "/project.zip", body: zipOf(t,
			file{name: "project/Makefile", body: makefile},
			file{name: "project/proj\xff\xfe.c", body: source})},
	)
	root := t.TempDir()
	dir := filepath.Join(root, "class")

	subs, err := FromMoodleZip(zipPath, dir)

	if err != nil {
		t.Fatal(err)
	}
	checkSubs(t, filepath.Join(dir, "download"), subs, []wantSub{
		{id: "Eve_Escape_200", name: "Eve Escape", participant: "200",
			path: escape + "/project.unpacked/project", has: []string{"Makefile", "project.c"}},
		{id: "Many_Files_202", name: "Many Files", participant: "202", problem: "files"},
		{id: "Non_Utf_203", name: "Non Utf", participant: "203",
			path: utf + "/project.unpacked/project", has: []string{"Makefile"}},
		{id: "Sym_Link_201", name: "Sym Link", participant: "201",
			path: link + "/project.unpacked/project", has: []string{"Makefile"}},
	})
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "class" {
		t.Errorf("unpacking wrote next to its folder: %v", entries)
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && (d.Name() == "escaped.c" || d.Name() == "absolute.c") {
			t.Errorf("an entry that escapes its folder was unpacked as %s", p)
		}
		return nil
	})
	for _, s := range subs {
		if s.Path == "" {
			continue
		}
		filepath.WalkDir(s.Path, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type()&os.ModeSymlink != 0 {
				t.Errorf("%s is a symbolic link", p)
			}
			if err == nil && !utf8.ValidString(d.Name()) {
				t.Errorf("%q is not valid UTF-8", p)
			}
			return nil
		})
	}
}

// TestFromMoodleZipFlatDotNames checks that a loose file whose own name is
// "." or ".." costs only its student an upload, not the class its grading.
func TestFromMoodleZipFlatDotNames(t *testing.T) {
	zipPath := writeClassZip(t,
		file{name: "Ada Lovelace_100_assignsubmission_file_..", body: source},
		file{name: "Alan Turing_101_assignsubmission_file_.", body: source},
		file{name: "Grace Hopper_102_assignsubmission_file_m.c", body: source},
	)
	subs, err := FromMoodleZip(zipPath, t.TempDir())
	if err != nil {
		t.Fatalf("FromMoodleZip: %v", err)
	}
	if len(subs) != 3 {
		t.Fatalf("got %d submissions, want 3", len(subs))
	}
	for _, s := range subs {
		if s.ID == "Grace_Hopper_102" && s.Problem != "" {
			t.Errorf("Grace Hopper's upload: %s", s.Problem)
		}
	}
}
