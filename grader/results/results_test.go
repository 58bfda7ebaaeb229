package results

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"kmodgrade/grader/grade"
)

func result(id, inputs, status string) *grade.Result {
	item := grade.ItemResult{Name: "Loads", Score: 7.5, MaxScore: 10,
		Checks: []grade.CheckResult{{Name: "load", Message: "insmod exited 1"}}}
	return &grade.Result{ID: id, Name: "Ada Lovelace", ParticipantID: "100", Score: 7.5,
		MaxScore: 10, Status: status, Inputs: inputs, Items: []grade.ItemResult{item}}
}

func TestSaveLoad(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "new", "results"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("ada"); !IsMissing(err) {
		t.Errorf("Load before Save: %v, want a missing result", err)
	}
	first, second := result("ada", "k1", grade.StatusGraded), result("ada", "k2", grade.StatusGraded)
	second.Score = 10

	for _, r := range []*grade.Result{first, second} {
		if err := s.Save(r); err != nil {
			t.Fatal(err)
		}
	}

	got, err := s.Load("ada")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, second) {
		t.Errorf("Load = %+v, want the last saved %+v", got, second)
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"ada.json"}) {
		t.Errorf("the store holds %q, want only ada.json", names)
	}
}

func TestLoadCorrupt(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	half := []byte(`{"id": "ada", "sc`)
	if err := os.WriteFile(filepath.Join(s.Dir, "ada.json"), half, 0o644); err != nil {
		t.Fatal(err)
	}

	_, err = s.Load("ada")

	if err == nil || IsMissing(err) || !strings.Contains(err.Error(), "ada.json") {
		t.Errorf("Load of a half file: %v, want an error naming ada.json", err)
	}
	if s.Fresh("ada", "k1") != nil {
		t.Errorf("Fresh returned a result from a half file")
	}
}

func TestFresh(t *testing.T) {
	tests := []struct {
		name   string
		saved  *grade.Result
		inputs string
		fresh  bool
	}{
		{"same inputs", result("ada", "k1", grade.StatusGraded), "k1", true},
		{"other inputs", result("ada", "k1", grade.StatusGraded), "k2", false},
		{"grader error", result("ada", "k1", grade.StatusError), "k1", false},
		{"build failed", result("ada", "k1", grade.StatusBuildFailed), "k1", true},
		{"bad upload", result("ada", "k1", grade.StatusBadUpload), "k1", true},
		{"no inputs saved", result("ada", "", grade.StatusGraded), "k1", false},
		{"nothing saved", nil, "k1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if tt.saved != nil {
				if err := s.Save(tt.saved); err != nil {
					t.Fatal(err)
				}
			}

			got := s.Fresh("ada", tt.inputs)

			if (got != nil) != tt.fresh {
				t.Fatalf("Fresh = %+v, want fresh %v", got, tt.fresh)
			}
			if got != nil && !reflect.DeepEqual(got, tt.saved) {
				t.Errorf("Fresh = %+v, want %+v", got, tt.saved)
			}
		})
	}
}

func TestAll(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.All(); err == nil {
		t.Errorf("All of an empty store gave no error")
	}
	for _, id := range []string{"cy", "Ada_Lovelace_100", "bob", "ada"} {
		if err := s.Save(result(id, "k", grade.StatusGraded)); err != nil {
			t.Fatal(err)
		}
	}
	// What a save cut short leaves behind is not a result.
	if err := os.WriteFile(filepath.Join(s.Dir, ".saving-123"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}

	all, err := s.All()

	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, r.ID)
	}
	if want := []string{"Ada_Lovelace_100", "ada", "bob", "cy"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("All = %q, want %q", ids, want)
	}
}

func TestHasherTree(t *testing.T) {
	sum := func(t *testing.T, files map[string]string) string {
		t.Helper()
		dir := t.TempDir()
		for name, text := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		h := NewHasher()
		h.String("inputs", "k")
		if err := h.Tree("source", dir); err != nil {
			t.Fatal(err)
		}
		return h.Sum()
	}
	const mk = "obj-m := p.o\n"
	base := map[string]string{"Makefile": mk, "src/p.c": "int x;\n"}
	tests := []struct {
		name  string
		files map[string]string
		same  bool
	}{
		{"same files elsewhere", base, true},
		{"a file changed", map[string]string{"Makefile": mk, "src/p.c": "int y;\n"}, false},
		{"a file renamed", map[string]string{"Makefile": mk, "src/q.c": "int x;\n"}, false},
		{"a file moved", map[string]string{"Makefile": mk, "p.c": "int x;\n"}, false},
		{"a file added", map[string]string{"Makefile": mk, "src/p.c": "int x;\n", "a": ""}, false},
	}
	want := sum(t, base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sum(t, tt.files); (got == want) != tt.same {
				t.Errorf("key %s, base %s: want same %v", got, want, tt.same)
			}
		})
	}
}
