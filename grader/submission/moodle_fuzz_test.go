package submission_test

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"kmodgrade/grader/internal/fuzzcheck"
	"kmodgrade/grader/submission"
)

// absCanary is where the seed with absolute entry names would put a file
// if FromMoodleZip followed them.
const absCanary = "/tmp/kmodgrade-fuzz-abs/escaped.c"

// entry is one entry of a zip built for a seed: a name ending in "/" is a
// folder, and link makes it a symbolic link to body.
type entry struct {
	name string
	body string
	link bool
}

// buildZip returns a zip of the entries.
func buildZip(tb testing.TB, entries ...entry) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.link {
			h.SetMode(fs.ModeSymlink | 0o777)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			tb.Fatal(err)
		}
		if strings.HasSuffix(e.name, "/") {
			continue // a folder: zip takes no body
		}
		if _, err := w.Write([]byte(e.body)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// classZips are the seeds of FuzzFromMoodleZip: Moodle downloads, normal
// and hostile.
func classZips(tb testing.TB) map[string][]byte {
	const (
		ada  = "Ada Lovelace_1001_assignsubmission_file/"
		alan = "Alan Turing_1002_assignsubmission_file/"
		mk   = "obj-m := m.o\n"
		src  = "#include <linux/module.h>\n"
	)
	inner := buildZip(tb, entry{name: "proj/Makefile", body: mk}, entry{name: "proj/m.c", body: src},
		entry{name: "../../../../../escaped.c", body: src})
	return map[string][]byte{
		"two students": buildZip(tb, entry{name: ada + "Makefile", body: mk},
			entry{name: ada + "m.c", body: src}, entry{name: alan + "m.c", body: src}),
		"dot-dot names": buildZip(tb, entry{name: ada + "../../../../escaped.c", body: src},
			entry{name: "../escaped.c", body: src}, entry{name: alan + `..\..\..\escaped.c`, body: src},
			entry{name: alan + "m.c", body: src}),
		"absolute names": buildZip(tb, entry{name: absCanary, body: src},
			entry{name: "/" + ada + "m.c", body: src}, entry{name: alan + "m.c", body: src}),
		"nested zip": buildZip(tb, entry{name: ada + "project.zip", body: string(inner)}),
		"symlink": buildZip(tb, entry{name: ada + "up", body: "../../../..", link: true},
			entry{name: ada + "up/escaped.c", body: src}, entry{name: ada + "m.c", body: src}),
		"non-UTF-8 names": buildZip(tb, entry{name: "Jos\xe9 N\xfa\xf1ez_1003_assignsubmission_file/m\xf6d.c",
			body: src}),
		"loose files": buildZip(tb, entry{name: "Ada Lovelace_1001_assignsubmission_file_m.c", body: src},
			entry{name: "Participant_1004_assignsubmission_file_..", body: src}),
	}
}

// FuzzFromMoodleZip checks that FromMoodleZip, given any bytes as the
// class's zip, does not panic or hang, writes nothing outside the folder
// it is given and no symbolic link, and returns submissions sorted by ID,
// one per participant, each with a folder inside that folder or a problem.
func FuzzFromMoodleZip(f *testing.F) {
	zips := classZips(f)
	for _, name := range slices.Sorted(maps.Keys(zips)) {
		f.Add(zips[name])
	}
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(checkMoodleZip)
}

// FuzzMoodleZipNames checks what FuzzFromMoodleZip checks, on class zips
// built from fuzzed entry names: a file, an archive, and an entry in the
// archive. Mutating raw zip bytes seldom yields a zip that opens, let alone
// one with new names.
func FuzzMoodleZipNames(f *testing.F) {
	const ada = "Ada Lovelace_1001_assignsubmission_file/"
	f.Add(ada+"m.c", ada+"project.zip", "proj/Makefile")
	f.Add("../escaped.c", ada+"../../p.zip", "../../../../../escaped.c")
	f.Add(absCanary, "Participant_1004_assignsubmission_file_..", `..\..\escaped.c`)
	f.Add(ada+"x/../../../escaped.c", "/"+ada+"p.zip", "./.././escaped.c")
	f.Fuzz(func(t *testing.T, file, archive, inner string) {
		if len(file)+len(archive)+len(inner) > 4096 {
			t.Skip("long names find nothing more, slowly")
		}
		in := buildZip(t, entry{name: inner, body: "obj-m := m.o\n"})
		checkMoodleZip(t, buildZip(t, entry{name: file, body: "int x;\n"},
			entry{name: archive, body: string(in)}))
	})
}

// checkMoodleZip unpacks data as a class's zip, a few folders down in a
// temporary folder so that a name that climbs out lands where
// checkConfined looks, and checks what it finds.
func checkMoodleZip(t *testing.T, data []byte) {
	t.Helper()
	zipPath := filepath.Join(t.TempDir(), "class.zip")
	if err := os.WriteFile(zipPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "c", "class")

	var subs []submission.Submission
	var err error
	fuzzcheck.NoHang(t, hangLimit, func() { subs, err = submission.FromMoodleZip(zipPath, dir) })

	checkConfined(t, root, dir)
	if _, lerr := os.Lstat(absCanary); lerr == nil {
		t.Fatalf("an absolute entry name was followed: %s exists", absCanary)
	}
	if err == nil {
		checkSubmissions(t, dir, subs)
	}
}

// hangLimit bounds one call of FromMoodleZip: longer is a hang. It is
// generous, for an input may unpack to tens of MiB on a busy disk; the
// fuzzing engine itself has no limit, and would pass with a hung call.
const hangLimit = 30 * time.Second

// checkConfined fails if anything under root is outside dir, other than
// the folders that lead to it, or if anything under dir is a link or other
// special file.
func checkConfined(t *testing.T, root, dir string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !inside(dir, path) && !(d.IsDir() && inside(path, dir)) {
			t.Errorf("%s was written outside %s", path, dir)
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			t.Errorf("%s is a %v, not a regular file", path, d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkSubmissions checks what FromMoodleZip returned: sorted by ID, one
// per participant, each with a path to a folder inside dir or a problem.
func checkSubmissions(t *testing.T, dir string, subs []submission.Submission) {
	t.Helper()
	if !sort.SliceIsSorted(subs, func(i, j int) bool { return subs[i].ID < subs[j].ID }) {
		t.Errorf("submissions are not sorted by ID: %+v", subs)
	}
	seen := map[string]bool{}
	for _, s := range subs {
		if seen[s.ParticipantID] {
			t.Errorf("participant %q has two submissions", s.ParticipantID)
		}
		seen[s.ParticipantID] = true
		if s.Path == "" {
			if s.Problem == "" {
				t.Errorf("submission %s has neither a path nor a problem", s.ID)
			}
			continue
		}
		if fi, err := os.Lstat(s.Path); !inside(dir, s.Path) || err != nil || !fi.IsDir() {
			t.Errorf("submission %s: path %s is not a folder inside %s", s.ID, s.Path, dir)
		}
	}
}

// inside reports whether path is dir or below it, by name.
func inside(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) &&
		!filepath.IsAbs(rel)
}
