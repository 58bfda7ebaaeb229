package submission

import (
	"archive/zip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"kmodgrade/grader/archive"
)

// A Moodle "Download all submissions" zip holds a folder per student,
// "<Full Name>_<participant id>_assignsubmission_file" (older versions add
// a trailing "_"; blind marking names the student "Participant_<id>"), or,
// without folders, files named "<Full Name>_<id>_assignsubmission_file_<name>".
var moodleFolder = regexp.MustCompile(`^(.+?)_(\d+)_assignsubmission_([a-z]+)(?:_(.*))?$`)

// classLimits bound each student's part of the class's zip, whether it is a
// folder or loose files named after the student; the archives in it get
// archive.DefaultLimits again when they are unpacked.
var classLimits = archive.Limits{Files: archive.DefaultLimits.Files,
	Bytes: archive.DefaultLimits.Bytes, Group: participantOf}

// participantOf names the student an entry of the download belongs to: the
// participant id of its top-level name, or that name when it has none.
func participantOf(name string) string {
	top, _, _ := strings.Cut(strings.TrimPrefix(strings.ReplaceAll(name, "\\", "/"), "./"), "/")
	if m := moodleFolder.FindStringSubmatch(top); m != nil {
		return m[2]
	}
	return top
}

// IsMoodleZip reports whether path looks like a Moodle download: a zip file.
func IsMoodleZip(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && archive.Kind(path) == "zip"
}

// FromMoodleZip unpacks a Moodle "Download all submissions" zip into dir
// and returns a Submission per student, sorted by name. An upload that
// cannot be graded (a broken archive, nothing in it) is returned with its
// Problem; only a zip that is not a Moodle download at all is an error.
func FromMoodleZip(zipPath, dir string) ([]Submission, error) {
	raw := filepath.Join(dir, "download")
	rep, err := archive.Extract(zipPath, raw, classLimits)
	if err != nil {
		return nil, fmt.Errorf("moodle zip %s: %w", zipPath, err)
	}
	students, err := groupStudents(raw)
	if err != nil {
		return nil, err
	}
	if len(students) == 0 && len(rep.Over) == 0 {
		return nil, fmt.Errorf("moodle zip %s: no folder named <Full Name>_<id>_assignsubmission_...", zipPath)
	}
	seen := map[string]bool{}
	var subs []Submission
	for _, st := range students {
		seen[st.id] = true
		sub := st.submission()
		if why, ok := rep.Over[st.id]; ok {
			sub.Problem = "the upload is larger than allowed: " + why
		} else if sub.Problem == "" {
			sub.Path, sub.Problem = prepare(st.dir)
		}
		subs = append(subs, sub)
	}
	// A student all of whose upload was past the limits has no file left
	// to be found by: they are graded 0 with the reason all the same.
	for id, why := range rep.Over {
		if !seen[id] {
			name := names(zipPath)[id]
			subs = append(subs, Submission{ID: studentID(name, id), Name: name, ParticipantID: id,
				Problem: "the upload is larger than allowed: " + why})
		}
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].ID < subs[j].ID })
	return subs, nil
}

// names maps participant ids to names from the entry names of the zip.
func names(zipPath string) map[string]string {
	out := map[string]string{}
	r, err := zip.OpenReader(zipPath)
	if err != nil {
		return out
	}
	defer r.Close()
	for _, f := range r.File {
		top, _, _ := strings.Cut(f.Name, "/")
		if m := moodleFolder.FindStringSubmatch(top); m != nil {
			out[m[2]] = displayName(m[1], m[2])
		}
	}
	return out
}

// student is one student's part of the download.
type student struct {
	name, id string
	folder   string // the top-level entry of the zip
	dir      string // where their files are
}

func (st *student) submission() Submission {
	return Submission{ID: studentID(st.name, st.id), Name: st.name, ParticipantID: st.id, Path: st.dir}
}

// studentID names a student's submission: "Ada_Lovelace_1001", or
// "Participant_1001" under blind marking.
func studentID(name, id string) string {
	if name == "Participant "+id {
		return slug(name)
	}
	return slug(name) + "_" + id
}

// groupStudents finds each student's folder in the unpacked download, and
// moves loose files named after a student (a download without folders) into
// a folder of their own.
func groupStudents(raw string) ([]*student, error) {
	entries, err := os.ReadDir(raw)
	if err != nil {
		return nil, err
	}
	byID := map[string]*student{}
	var out []*student
	for _, e := range entries {
		m := moodleFolder.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		st, ok := byID[m[2]]
		if !ok {
			st = &student{name: displayName(m[1], m[2]), id: m[2], folder: e.Name(),
				dir: filepath.Join(raw, e.Name())}
			byID[m[2]] = st
			out = append(out, st)
		}
		if e.IsDir() {
			// A student may have a folder per submission type (file,
			// onlinetext): the module is in the file submission's.
			if m[3] == "file" {
				st.dir, st.folder = filepath.Join(raw, e.Name()), e.Name()
			}
			continue
		}
		// A loose file: <name>_<id>_assignsubmission_<type>_<file name>. All
		// of a student's loose files go to one folder of their own.
		folder := filepath.Join(raw, "loose", m[2])
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return nil, err
		}
		file := m[4]
		if file == "" || file == "." || file == ".." {
			file = "upload" // a name that is not a file's name
		}
		if err := os.Rename(filepath.Join(raw, e.Name()), filepath.Join(folder, file)); err != nil {
			return nil, err
		}
		st.dir, st.folder = folder, e.Name()
	}
	return out, nil
}

// displayName is the student's name as Moodle shows it; blind marking
// gives "Participant 123456".
func displayName(name, id string) string {
	if name == "Participant" {
		return "Participant " + id
	}
	return name
}

// prepare unpacks the archives in a student's folder and finds the folder
// that holds the module's sources.
func prepare(dir string) (string, string) {
	if err := unpackAll(dir); err != nil {
		return "", err.Error()
	}
	src, err := findSources(dir)
	if err != nil {
		return "", err.Error()
	}
	return src, ""
}

// unpackAll unpacks each archive in dir, or a folder below it, next to
// itself, under the student's limits.
func unpackAll(dir string) error {
	var archives []string
	empty := true
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			empty = false
		}
		if !d.IsDir() && archive.Kind(d.Name()) != "" && depth(dir, path) <= 3 {
			archives = append(archives, path)
		}
		return nil
	})
	if empty {
		return errors.New("the upload is empty")
	}
	for _, a := range archives {
		dst := strings.TrimSuffix(a, filepath.Ext(a))
		if strings.HasSuffix(strings.ToLower(dst), ".tar") {
			dst = strings.TrimSuffix(dst, filepath.Ext(dst))
		}
		dst += ".unpacked"
		if _, err := archive.Extract(a, dst, archive.DefaultLimits); err != nil {
			return fmt.Errorf("could not unpack %s: %v", filepath.Base(a), err)
		}
	}
	return nil
}

func depth(root, path string) int {
	rel, _ := filepath.Rel(root, path)
	return strings.Count(rel, string(filepath.Separator)) + 1
}

// findSources picks the folder of the module: the shallowest that has a
// Makefile or Kbuild file, else the shallowest with a .c file. macOS's
// __MACOSX shadow folders are passed over.
func findSources(dir string) (string, error) {
	best := map[int]string{} // 0: with a Makefile, 1: with .c files
	bestDepth := map[int]int{}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == "__MACOSX" || strings.HasPrefix(d.Name(), ".")) && path != dir {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rank := -1
		switch {
		case d.Name() == "Makefile" || d.Name() == "Kbuild" || d.Name() == "makefile":
			rank = 0
		case strings.HasSuffix(d.Name(), ".c"):
			rank = 1
		}
		if rank < 0 {
			return nil
		}
		folder := filepath.Dir(path)
		dp := depth(dir, folder)
		if cur, ok := best[rank]; !ok || dp < bestDepth[rank] || (dp == bestDepth[rank] && folder < cur) {
			best[rank], bestDepth[rank] = folder, dp
		}
		return nil
	})
	if f, ok := best[0]; ok {
		return f, nil
	}
	if f, ok := best[1]; ok {
		return f, nil
	}
	return "", errors.New("the upload has no Makefile, Kbuild file or .c file")
}

// slug makes a name safe as a file name: letters and digits stay, the
// rest becomes "_".
func slug(name string) string {
	var b strings.Builder
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	return strings.Trim(b.String(), "_")
}
