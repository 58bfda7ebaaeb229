package build_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kmodgrade/grader/build"
)

// TestBuildAll builds modules of distinct names together, with one that
// does not compile and one that uses a symbol nobody exports among them:
// each gets what Build gives it alone, its own compiler output included.
func TestBuildAll(t *testing.T) {
	cfg := config(t)
	var jobs []build.Job
	want := map[string]string{} // id: "" to build, else a phrase of the error
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("m%d", i)
		src := writeFiles(t, map[string]string{name + ".c": tinyModule, "Makefile": "obj-m += " + name + ".o\n"})
		jobs = append(jobs, build.Job{ID: name, Src: src})
		want[name] = ""
	}
	broken := writeFiles(t, map[string]string{"broken.c": tinyModule + "int x = ;\n", "Makefile": "obj-m += broken.o\n"})
	jobs = append(jobs, build.Job{ID: "broken", Src: broken})
	want["broken"] = "broken.c:7:9: error"
	undef := writeFiles(t, map[string]string{"undef.c": strings.Replace(tinyModule, "return 0;",
		"extern int nowhere(void); return nowhere();", 1), "Makefile": "obj-m += undef.o\n"})
	jobs = append(jobs, build.Job{ID: "undef", Src: undef})
	want["undef"] = `the compiler reported errors, the first: ERROR: modpost: "nowhere" [undef.ko] undefined!`

	out := build.BuildAll(context.Background(), cfg, jobs, filepath.Join(t.TempDir(), "s"))

	for id, phrase := range want {
		o, ok := out[id]
		switch {
		case !ok:
			t.Errorf("%s: no outcome", id)
		case phrase == "" && o.Err != nil:
			t.Errorf("%s: %v", id, o.Err)
		case phrase == "":
			assertModule(t, o.Module.Path)
		case o.Err == nil:
			t.Errorf("%s built, want an error saying %q", id, phrase)
		default:
			be, _ := o.Err.(*build.Error)
			if be == nil || !strings.Contains(be.Reason+be.Output, phrase) {
				t.Errorf("%s: %v, want %q", id, o.Err, phrase)
			}
			if be != nil && strings.Contains(be.Output, "m1.c") {
				t.Errorf("%s's output holds another module's:\n%s", id, be.Output)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(out["m0"].Module.Path), "Kbuild")); err != nil {
		t.Errorf("m0 was not built in a folder of its own: %v", err)
	}
}
