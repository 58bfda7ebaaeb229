// Package submission finds the submissions to grade.
package submission

import (
	"fmt"
	"os"
	"path/filepath"
)

// Submission is one student's (or team's) work: a folder of module sources.
type Submission struct {
	// ID names the submission in results: the folder's name, made unique.
	ID string
	// Path is the folder that holds the module's sources.
	Path string
	// Name and ParticipantID are the student's, when the submission came
	// from a Moodle download.
	Name          string `json:",omitempty"`
	ParticipantID string `json:",omitempty"`
	// Problem says why the upload cannot be graded (an archive that does
	// not unpack, an empty upload), or is empty.
	Problem string `json:",omitempty"`
}

// FromFolders makes a Submission of each folder, in the order given.
func FromFolders(paths []string) ([]Submission, error) {
	seen := map[string]int{}
	var subs []Submission
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("submission %s: %w", p, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("submission %s: not a folder", p)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		id := filepath.Base(abs)
		seen[id]++
		if n := seen[id]; n > 1 {
			id = fmt.Sprintf("%s-%d", id, n)
		}
		subs = append(subs, Submission{ID: id, Path: p})
	}
	return subs, nil
}
