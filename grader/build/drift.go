package build

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// compatFiles are headers the grader puts first on the include path when
// the rubric asks for them; see compat/linux/proc_fs.h.
//
//go:embed compat
var compatFiles embed.FS

// compatDir is where the compatibility headers go in the scratch folder (a
// hidden folder: nothing of the submission's own is copied under that name).
const compatDir = ".kmodgrade/include"

// writeCompat copies the compatibility headers into the scratch folder,
// which the sandbox sees as dir, and returns the Kbuild lines that put them
// first on the include path.
func writeCompat(scratch, dir string) (string, error) {
	b, err := compatFiles.ReadFile("compat/linux/proc_fs.h")
	if err != nil {
		return "", err
	}
	linux := filepath.Join(scratch, compatDir, "linux")
	if err := os.MkdirAll(linux, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(linux, "proc_fs.h"), b, 0o644); err != nil {
		return "", err
	}
	// NOSTDINC_FLAGS comes before the kernel's own include folders, so that
	// <linux/proc_fs.h> finds the wrapper, which includes the real one.
	return "NOSTDINC_FLAGS += -I" + dir + "/" + compatDir + "\n", nil
}

// drift is a compiler error that usually means code written for another
// kernel version, and what changed.
type drift struct {
	error *regexp.Regexp
	cause string
}

var drifts = []drift{
	{quoted(`'struct task_struct' has no member named 'state'`),
		"task_struct's state field was renamed __state in Linux 5.14 (use READ_ONCE(p->__state), " +
			"or task_is_running)"},
	{quoted(`passing argument 4 of 'proc_create(_data)?' from incompatible pointer type`),
		"since Linux 5.6, proc_create takes a struct proc_ops table (.proc_read, .proc_write) " +
			"instead of a struct file_operations"},
	{quoted(`'struct proc_ops' has no member named '(owner|read|write|open|release|llseek)'`),
		"struct proc_ops names its handlers .proc_read, .proc_write, .proc_open, .proc_release " +
			"and .proc_lseek, and has no .owner"},
	{quoted(`implicit declaration of function '(get_fs|set_fs)'`),
		"get_fs and set_fs were removed in Linux 5.10"},
	{quoted(`implicit declaration of function 'PDE_DATA'`),
		"PDE_DATA was renamed pde_data in Linux 5.17"},
	{quoted(`'struct file_operations' has no member named 'ioctl'`),
		"file_operations' ioctl became unlocked_ioctl in Linux 2.6.36"},
	{quoted(`implicit declaration of function '(init_timer|setup_timer)'`),
		"the timer API changed in Linux 4.15: use timer_setup"},
	{quoted(`implicit declaration of function 'access_ok'|too many arguments to function 'access_ok'`),
		"access_ok lost its first (type) argument in Linux 5.0"},
}

// quoted compiles a pattern written with ASCII quotes so that it also
// matches the typographic quotes gcc prints in a UTF-8 locale.
func quoted(pattern string) *regexp.Regexp {
	return regexp.MustCompile(strings.ReplaceAll(pattern, "'", "['‘’]"))
}

// driftHint explains a build failure that looks like code written for
// another kernel, naming the grading kernel, or returns "".
func driftHint(out, release string) string {
	var causes []string
	for _, d := range drifts {
		if d.error.MatchString(out) {
			causes = append(causes, d.cause)
		}
	}
	if len(causes) == 0 {
		return ""
	}
	return fmt.Sprintf("this looks like code written for another kernel version, not a typo: the grading "+
		"kernel is %s, and %s", release, strings.Join(causes, "; "))
}
