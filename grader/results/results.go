// Package results keeps each graded submission's Result as a JSON file of
// its own in a folder, written the moment it is known, so that a batch that
// is stopped at any point loses nothing it finished.
package results

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"kmodgrade/grader/grade"
)

// Store is a folder of results, one <id>.json per submission.
type Store struct {
	Dir string
}

// Open returns the store in dir, creating the folder if needed.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results folder: %w", err)
	}
	return &Store{Dir: dir}, nil
}

func (s *Store) path(id string) string {
	return filepath.Join(s.Dir, id+".json")
}

// Save writes a result atomically: a reader, or a rerun after a crash, sees
// the old file or the new one, never half of one.
func (s *Store) Save(r *grade.Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Dir, ".saving-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), s.path(r.ID))
}

// Load reads the result of one submission; it returns fs.ErrNotExist if
// there is none.
func (s *Store) Load(id string) (*grade.Result, error) {
	b, err := os.ReadFile(s.path(id))
	if err != nil {
		return nil, err
	}
	var r grade.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path(id), err)
	}
	return &r, nil
}

// Delete removes the result of id, if there is one.
func (s *Store) Delete(id string) error {
	err := os.Remove(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// All reads every result in the store, sorted by id.
func (s *Store) All() ([]*grade.Result, error) {
	files, err := filepath.Glob(filepath.Join(s.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []*grade.Result
	for _, f := range files {
		r, err := s.Load(strings.TrimSuffix(filepath.Base(f), ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no results in %s", s.Dir)
	}
	return out, nil
}

// Fresh returns the saved result of id if it was graded from the same
// inputs, and nil otherwise.
func (s *Store) Fresh(id, inputs string) *grade.Result {
	r, err := s.Load(id)
	if err != nil || r.Inputs != inputs || r.Status == grade.StatusError {
		return nil
	}
	return r
}

// Hasher adds up what a grade depends on into one key.
type Hasher struct {
	h io.Writer
	s interface{ Sum([]byte) []byte }
}

// NewHasher starts a key.
func NewHasher() *Hasher {
	h := sha256.New()
	return &Hasher{h: h, s: h}
}

// String adds a labelled string.
func (k *Hasher) String(label, v string) {
	fmt.Fprintf(k.h, "%s %d %s\n", label, len(v), v)
}

// File adds a labelled file's contents.
func (k *Hasher) File(label, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(k.h, "%s\n", label)
	_, err = io.Copy(k.h, f)
	return err
}

// Tree adds every regular file below dir, by relative name, in order.
func (k *Hasher) Tree(label, dir string) error {
	if dir == "" {
		return nil
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		if err := k.File(label+" "+filepath.ToSlash(rel), f); err != nil {
			return err
		}
	}
	return nil
}

// Sum returns the key.
func (k *Hasher) Sum() string {
	return hex.EncodeToString(k.s.Sum(nil))
}

// IsMissing reports whether err means there is no result yet.
func IsMissing(err error) bool { return errors.Is(err, fs.ErrNotExist) }
