package submission

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"kmodgrade/grader/archive"
)

// FromUpload makes a Submission of one student's upload as it lies in dir
// (Gradescope's /autograder/submission, or a student's own project folder):
// a copy of it is made in work, its archives are unpacked there, and the
// module's folder is found as in a Moodle download, so that a module in a
// subfolder, or in a zip, is found too. dir itself is not changed. Like a
// Moodle upload, one past the limits, empty, or without sources comes back
// with its Problem.
func FromUpload(dir, work string) (Submission, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Submission{}, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Submission{}, fmt.Errorf("submission %w", err)
	}
	if !fi.IsDir() {
		return Submission{}, fmt.Errorf("submission %s: not a folder", dir)
	}
	sub := Submission{ID: filepath.Base(abs)}
	copyDir := filepath.Join(work, "upload")
	if err := copyUpload(abs, copyDir, archive.DefaultLimits); err != nil {
		sub.Problem = err.Error()
		return sub, nil
	}
	sub.Path, sub.Problem = prepare(copyDir)
	return sub, nil
}

// copyUpload copies the regular files and folders of src into dst, leaving
// out links and devices, within limits.
func copyUpload(src, dst string, lim archive.Limits) error {
	files, bytes := 0, int64(0)
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		bytes += info.Size()
		if files > lim.Files || bytes > lim.Bytes {
			return fmt.Errorf("the upload is larger than allowed: more than %d files or %d MiB",
				lim.Files, lim.Bytes>>20)
		}
		return copyFile(path, to)
	})
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
