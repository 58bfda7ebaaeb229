package grade

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"kmodgrade/grader/kernel"
	"kmodgrade/grader/vm"
)

// The cache keeps saved guests for later graders, in a folder each:
// guests/<key>-<time>/guest.state and its memory, guest.state.mem, where key
// is the vm.Key of the guests that may start from it. A folder is filled
// under a name ending in .part and renamed into place whole: a grader never
// reads the state of one save with the memory of another.

const cachedState = "guest.state"

func guestCache() string { return filepath.Join(kernel.CacheDir(), "guests") }

// cachedGuest returns the state file of the newest saved guest of key in
// the cache, or "" when there is none.
func cachedGuest(key string) string {
	dirs, _ := filepath.Glob(filepath.Join(guestCache(), key+"-*"))
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // the time in the name sorts as text
	for _, d := range dirs {
		if strings.HasSuffix(d, ".part") {
			continue
		}
		state := filepath.Join(d, cachedState)
		if fi, err := os.Stat(state); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			return state
		}
	}
	return ""
}

// keepGuest copies a saved guest into the cache. The newest two are kept:
// an upgrade of the grader, QEMU or the kernel makes a new one.
func keepGuest(snap *vm.Snapshot, key string) {
	root := guestCache()
	final := filepath.Join(root, fmt.Sprintf("%s-%016x", key, time.Now().UnixNano()))
	part := fmt.Sprintf("%s.%d.part", final, os.Getpid())
	if err := os.MkdirAll(part, 0o755); err != nil {
		return
	}
	err := copySparse(snap.Path, filepath.Join(part, cachedState))
	if err == nil && snap.Memory != "" {
		err = copySparse(snap.Memory, filepath.Join(part, cachedState+vm.MemorySuffix))
	}
	if err == nil {
		err = os.Rename(part, final)
	}
	if err != nil {
		os.RemoveAll(part)
		return
	}
	entries, _ := os.ReadDir(root)
	var kept []string
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		switch {
		case !e.IsDir():
			os.Remove(p) // a saved guest of an older grader, kept as one file
		case !strings.HasSuffix(e.Name(), ".part"):
			kept = append(kept, p)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return modTime(kept[i]).After(modTime(kept[j])) })
	for _, p := range kept[min(len(kept), 2):] {
		os.RemoveAll(p)
	}
}

// dropGuest removes the cached saved guest whose state file is state.
func dropGuest(state string) {
	dir := filepath.Dir(state)
	if filepath.Dir(dir) == guestCache() {
		os.RemoveAll(dir)
	}
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// copySparse copies a file, leaving out the blocks that are all zeros: a
// saved guest's memory is about half pages the guest never used.
func copySparse(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	buf, zeros := make([]byte, 1<<16), make([]byte, 1<<16)
	var size int64
	for {
		n, rerr := io.ReadFull(in, buf)
		if n > 0 {
			if bytes.Equal(buf[:n], zeros[:n]) {
				_, err = out.Seek(int64(n), io.SeekCurrent)
			} else {
				_, err = out.Write(buf[:n])
			}
			if err != nil {
				out.Close()
				return err
			}
			size += int64(n)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			out.Close()
			return rerr
		}
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
