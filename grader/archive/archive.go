// Package archive unpacks the archives students and Moodle hand in (zip,
// tar, tar.gz) without trusting them: no entry lands outside the
// destination, links and devices are left out, and limits on size and file
// count stop an archive bomb.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Limits bound what one unpacking may write.
type Limits struct {
	Files int   // entries written
	Bytes int64 // bytes written, counted as they are decompressed
	// Group, when set, applies the limits to each group of entries on its
	// own (one student's upload in a class's archive), naming the group of
	// an entry: a group past them is listed in Report.Over, its later
	// entries are left out, and the rest goes on.
	Group func(name string) string
}

// DefaultLimits suit one student's upload of a kernel module.
var DefaultLimits = Limits{Files: 2000, Bytes: 64 << 20}

// ErrLimit means the archive goes past its limits.
var ErrLimit = errors.New("the archive is larger than allowed")

// Kind says what an archive file is, from its name: "zip", "tar", "tar.gz",
// or "" for a file that is not an archive.
func Kind(name string) string {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".zip"):
		return "zip"
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return "tar.gz"
	case strings.HasSuffix(n, ".tar"):
		return "tar"
	}
	return ""
}

// Report is what an unpacking did besides writing files.
type Report struct {
	Files   int
	Bytes   int64
	Skipped []string // entries left out, with why
	// Over names, with Limits.Group, each group that went past the limits,
	// and says how.
	Over map[string]string
}

// usage is what one limited part of an archive has written.
type usage struct {
	files int
	bytes int64
}

// Extract unpacks the archive at src into dst (created if missing).
func Extract(src, dst string, lim Limits) (*Report, error) {
	u := &unpacker{dst: dst, lim: lim, rep: &Report{Over: map[string]string{}}, use: map[string]*usage{}}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, err
	}
	var err error
	switch Kind(src) {
	case "zip":
		err = u.zip(src)
	case "tar":
		err = u.tarFile(src, false)
	case "tar.gz":
		err = u.tarFile(src, true)
	default:
		err = fmt.Errorf("%s is not a zip, tar or tar.gz archive", filepath.Base(src))
	}
	if err != nil && !strings.Contains(err.Error(), filepath.Base(src)) {
		err = fmt.Errorf("%s: %w", filepath.Base(src), err)
	}
	return u.rep, err
}

type unpacker struct {
	dst string
	lim Limits
	rep *Report
	use map[string]*usage // by group with Limits.Group, else under ""
}

// part returns the group an entry's limits belong to.
func (u *unpacker) part(name string) string {
	if u.lim.Group == nil {
		return ""
	}
	return u.lim.Group(clean(name))
}

func (u *unpacker) zip(src string) error {
	r, err := zip.OpenReader(src)
	if err != nil {
		return fmt.Errorf("%s is not a readable zip archive: %w", filepath.Base(src), err)
	}
	defer r.Close()
	for _, f := range r.File {
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if _, err := u.dir(f.Name); err != nil {
				return err
			}
			continue
		case !mode.IsRegular():
			u.skip(f.Name, "not a regular file")
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		err = u.file(f.Name, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (u *unpacker) tarFile(src string, gz bool) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s is not a readable gzip file: %w", filepath.Base(src), err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s is not a readable tar archive: %w", filepath.Base(src), err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if _, err := u.dir(h.Name); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA:
			if err := u.file(h.Name, tr); err != nil {
				return err
			}
		default:
			u.skip(h.Name, "not a regular file")
		}
	}
}

func (u *unpacker) skip(name, why string) {
	u.rep.Skipped = append(u.rep.Skipped, fmt.Sprintf("%s: %s", clean(name), why))
}

// target returns where an entry goes, or "" if its name must not be used.
func (u *unpacker) target(name string) string {
	name = strings.ReplaceAll(clean(name), "\\", "/")
	if name == "" || strings.HasPrefix(name, "/") || path.IsAbs(name) || filepath.VolumeName(name) != "" {
		return ""
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return ""
		}
	}
	p := path.Clean(name)
	if p == "." {
		return ""
	}
	return filepath.Join(u.dst, filepath.FromSlash(p))
}

func (u *unpacker) dir(name string) (string, error) {
	t := u.target(name)
	if t == "" {
		u.skip(name, "its path leaves the folder")
		return "", nil
	}
	return t, os.MkdirAll(t, 0o755)
}

func (u *unpacker) file(name string, r io.Reader) error {
	t := u.target(name)
	if t == "" {
		u.skip(name, "its path leaves the folder")
		return nil
	}
	part := u.part(name)
	if _, over := u.rep.Over[part]; over && u.lim.Group != nil {
		return nil
	}
	use := u.use[part]
	if use == nil {
		use = &usage{}
		u.use[part] = use
	}
	if use.files++; use.files > u.lim.Files {
		return u.over(part, fmt.Errorf("%w: more than %d files", ErrLimit, u.lim.Files))
	}
	u.rep.Files++
	if err := os.MkdirAll(filepath.Dir(t), 0o755); err != nil {
		return err
	}
	// A folder of the same name (or a file where a folder is) makes the
	// create fail: that is an error of the archive, not of the grader.
	out, err := os.OpenFile(t, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscallNoFollow, 0o644)
	if err != nil {
		u.skip(name, err.Error())
		return nil
	}
	room := u.lim.Bytes - use.bytes
	n, err := io.Copy(out, io.LimitReader(r, room+1))
	use.bytes += n
	u.rep.Bytes += n
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if n > room {
		os.Remove(t)
		return u.over(part, fmt.Errorf("%w: more than %d MiB unpacked", ErrLimit, u.lim.Bytes>>20))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", clean(name), err)
	}
	return nil
}

// over records a part past its limits: with Limits.Group the unpacking
// goes on with the other groups, else it stops.
func (u *unpacker) over(part string, err error) error {
	if u.lim.Group == nil {
		return err
	}
	u.rep.Over[part] = err.Error()
	return nil
}

// clean makes an entry name valid UTF-8, replacing what is not, so that a
// name in another encoding still unpacks under a printable name.
func clean(name string) string {
	if utf8.ValidString(name) {
		return name
	}
	return strings.ToValidUTF8(name, "_")
}
