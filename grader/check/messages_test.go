package check

import (
	"strings"
	"testing"

	"kmodgrade/grader/step"
)

// logs sets what the kernel logged during a step of the lifecycle run.
func logs(key string, lines ...string) func(e *Evidence) {
	return func(e *Evidence) { e.Obs[key].Kmsg = lines }
}

func TestLoadMessage(t *testing.T) {
	insmod := InsmodKey(LifecycleRun)
	judge(t, "load-message", &LoadMessage{Message: loadLine}, []verdictCase{
		{
			name:   "line present",
			passed: true,
			phrase: `the kernel log has "[csse332]: Module csse332 initializing..." after insmod`,
		},
		{
			name:   "trailing spaces",
			fault:  logs(insmod, loadLine+"  "),
			passed: true,
			phrase: "after insmod",
		},
		{
			name:   "line the reference logs",
			check:  &LoadMessage{},
			passed: true,
			phrase: `the kernel log has "[csse332]: Module csse332 initializing..." after insmod`,
		},
		{
			name:   "missing prefix",
			fault:  logs(insmod, loaderLines[0], loaderLines[1], "Module csse332 initializing..."),
			phrase: "define pr_fmt before the #include lines",
		},
		{
			name:   "different case",
			fault:  logs(insmod, "[CSSE332]: module csse332 initializing"),
			phrase: "differs only in case, spaces or punctuation",
		},
		{
			name:   "only the loader's lines",
			fault:  logs(insmod, loaderLines...),
			phrase: "after insmod: the module logged nothing",
		},
		{
			name:   "another line",
			fault:  logs(insmod, "[csse332]: hello", "[csse332]: array at 0000000012345678"),
			phrase: `the module logged "[csse332]: hello", "[csse332]: array at 0000000012345678"`,
		},
		{
			name:   "module did not load",
			fault:  failedInsmod(LifecycleRun),
			phrase: `the module did not load: insmod failed with ENOMEM: the init function returned an error, or the kernel refused the module; the kernel log says: "[csse332]: kmalloc failed"`,
		},
		{
			name:   "insmod not carried out",
			fault:  func(e *Evidence) { delete(e.Obs, insmod) },
			phrase: "the step lifecycle/insmod was not carried out",
		},
	})
}

func TestExitMessage(t *testing.T) {
	insmod, rmmod := InsmodKey(LifecycleRun), RmmodKey(LifecycleRun)
	judge(t, "exit-message", &ExitMessage{Message: exitLine}, []verdictCase{
		{
			name:   "present during rmmod",
			passed: true,
			phrase: `the kernel log has "[csse332]: Module csse332 exiting..." during rmmod`,
		},
		{
			name:   "line the reference logs",
			check:  &ExitMessage{},
			passed: true,
			phrase: "during rmmod",
		},
		{
			name: "printed at load time only",
			fault: func(e *Evidence) {
				logs(insmod, loadLine, exitLine)(e)
				logs(rmmod)(e)
			},
			phrase: "it was printed at load time instead, so it does not count",
		},
		{
			name:   "missing",
			fault:  logs(rmmod),
			phrase: "during rmmod: the module logged nothing",
		},
		{
			name: "rmmod failed",
			fault: func(e *Evidence) {
				e.Obs[rmmod] = &step.Observation{Op: step.OpRmmod, Errno: "EBUSY",
					Error: "delete_module: device or resource busy"}
			},
			phrase: "rmmod failed with EBUSY: the module is still in use",
		},
		{
			name:   "module did not load",
			fault:  failedInsmod(LifecycleRun),
			phrase: "the module did not load: insmod failed with ENOMEM",
		},
		{
			name:   "crashed while loaded",
			fault:  crashed(LifecycleRun),
			phrase: "the kernel crashed while reading /proc/csse332/status",
		},
	})
}

func TestProcEntry(t *testing.T) {
	key := func(name string) string { return Key(LifecycleRun, "proc-entry", name) }
	stat := func(name string, s step.Stat) func(e *Evidence) {
		return func(e *Evidence) { e.Obs[key(name)].Stat = &s }
	}
	judge(t, "proc-entry", &ProcEntry{Dir: procDir, File: procFile, Mode: "0666"}, []verdictCase{
		{
			name:   "good",
			passed: true,
			phrase: "/proc/csse332 and /proc/csse332/status (mode 0666) are there while loaded and gone after rmmod",
		},
		{
			name:   "mode of the reference",
			check:  &ProcEntry{Dir: procDir, File: procFile},
			passed: true,
			phrase: "(mode 0666)",
		},
		{
			name: "dir missing",
			fault: func(e *Evidence) {
				stat("dir", step.Stat{})(e)
				stat("file", step.Stat{})(e)
			},
			phrase: "while the module is loaded, /proc/csse332 is not a directory: create it with proc_mkdir",
		},
		{
			name:   "file missing",
			fault:  stat("file", step.Stat{}),
			phrase: "while the module is loaded, /proc/csse332/status is not a file: create it with proc_create",
		},
		{
			name:   "file is a directory",
			fault:  stat("file", step.Stat{Exists: true, Dir: true, Mode: 0o555}),
			phrase: "is not a file",
		},
		{
			name:   "wrong mode 0644",
			fault:  stat("file", step.Stat{Exists: true, Mode: 0o644}),
			phrase: "/proc/csse332/status has mode 0644; it should be 0666",
		},
		{
			name:   "wrong mode next to the reference's",
			check:  &ProcEntry{Dir: procDir, File: procFile},
			fault:  stat("file", step.Stat{Exists: true, Mode: 0o444}),
			phrase: "has mode 0444; it should be 0666",
		},
		{
			name:   "file still there after rmmod",
			fault:  stat("file-after", step.Stat{Exists: true, Mode: 0o666}),
			phrase: "/proc/csse332/status is still there after rmmod: remove it in the exit function",
		},
		{
			name:   "dir still there after rmmod",
			fault:  stat("dir-after", step.Stat{Exists: true, Dir: true, Mode: 0o555}),
			phrase: "/proc/csse332 is still there after rmmod",
		},
		{
			name:   "module did not load",
			fault:  failedInsmod(LifecycleRun),
			phrase: "the module did not load",
		},
		{
			name:   "crashed while loaded",
			fault:  crashed(LifecycleRun),
			phrase: "the kernel crashed while reading /proc/csse332/status",
		},
	})
}

// TestFindLineHints checks the hint for a near miss, and that a line with no
// letters or digits, or only a fragment of the message, gets none.
func TestFindLineHints(t *testing.T) {
	const want = "[csse332]: Module csse332 initializing..."
	for _, tc := range []struct {
		name   string
		logged []string
		hint   string
		noHint string
	}{
		{"no prefix", []string{"Module csse332 initializing..."}, "define pr_fmt", ""},
		{"another case", []string{"[CSSE332]: module csse332 initializing"}, "differs only in case", ""},
		{"a ruler", []string{"=========="}, "the module logged", "pr_fmt"},
		{"a fragment", []string{"initializing"}, "the module logged", "pr_fmt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := findLine(want, tc.logged)
			if err == nil {
				t.Fatal("findLine found a line that is not there")
			}
			if !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("%q does not say %q", err, tc.hint)
			}
			if tc.noHint != "" && strings.Contains(err.Error(), tc.noHint) {
				t.Errorf("%q says %q", err, tc.noHint)
			}
		})
	}
}
