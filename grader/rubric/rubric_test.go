package rubric_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"kmodgrade/grader/check"
	"kmodgrade/grader/rubric"
)

const milestone1 = "../../rubrics/milestone1.yaml"

func loadMilestone1(t *testing.T) *rubric.Rubric {
	t.Helper()
	data, err := os.ReadFile(milestone1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rubric.Parse(milestone1, data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", milestone1, err)
	}
	return r
}

func TestMilestone1Items(t *testing.T) {
	r := loadMilestone1(t)

	want := []struct {
		short  string
		points float64
		kinds  []string
	}{
		{"load", 5, []string{"load_message"}},
		{"exit", 5, []string{"exit_message"}},
		{"memory", 20, []string{"memory"}},
		{"proc", 10, []string{"proc_entry"}},
		{"write", 40, []string{"write_in_bounds", "write_out_of_bounds"}},
		{"read", 40, []string{"read_entries"}},
	}
	if len(r.Items) != len(want) {
		t.Fatalf("got %d items, want %d", len(r.Items), len(want))
	}
	for i, w := range want {
		t.Run(w.short, func(t *testing.T) {
			it := r.Items[i]
			if it.Short != w.short {
				t.Errorf("item %d is %q, want %q", i, it.Short, w.short)
			}
			if it.Points != w.points {
				t.Errorf("points = %v, want %v", it.Points, w.points)
			}
			var kinds []string
			for _, c := range it.Checks {
				kinds = append(kinds, c.Kind)
			}
			if !reflect.DeepEqual(kinds, w.kinds) {
				t.Errorf("kinds = %v, want %v", kinds, w.kinds)
			}
		})
	}
	if got := r.MaxScore(); got != 120 {
		t.Errorf("MaxScore() = %v, want 120", got)
	}
}

func TestMilestone1Settings(t *testing.T) {
	r := loadMilestone1(t)

	if r.Name != "milestone1" {
		t.Errorf("Name = %q, want milestone1", r.Name)
	}
	if r.StepTimeout != 20*time.Second || r.BootTimeout != 120*time.Second || r.BuildTimeout != 120*time.Second {
		t.Errorf("timeouts = %v, %v, %v; want 20s, 2m0s, 2m0s", r.StepTimeout, r.BootTimeout, r.BuildTimeout)
	}
	if want := filepath.Join("..", "..", "reference"); r.Reference != want {
		t.Errorf("Reference = %q, want %q (next to the rubric's folder)", r.Reference, want)
	}
	if !r.ProcOpsCompat {
		t.Error("ProcOpsCompat is off; milestone 1 grades both proc_create forms")
	}
	if r.KernelImage != "" || r.KernelHeaders != "" {
		t.Errorf("milestone 1 names a kernel (%q, %q); it should take the grader's default",
			r.KernelImage, r.KernelHeaders)
	}
	if _, err := os.Stat(filepath.Join(r.Reference, "csse332.c")); err != nil {
		t.Errorf("the resolved Reference holds no reference module: %v", err)
	}
}

func TestMilestone1WriteItem(t *testing.T) {
	r := loadMilestone1(t)
	write := r.Items[4]

	want := []struct{ id, kind string }{
		{"write-in-bounds", "write_in_bounds"},
		{"write-out-of-bounds", "write_out_of_bounds"},
	}
	if len(write.Checks) != len(want) {
		t.Fatalf("the write item has %d checks, want %d", len(write.Checks), len(want))
	}
	for i, w := range want {
		c := write.Checks[i]
		if c.ID != w.id || c.Kind != w.kind || c.Weight != 1 {
			t.Errorf("check %d = {ID %q, Kind %q, Weight %v}, want {%q, %q, 1}",
				i, c.ID, c.Kind, c.Weight, w.id, w.kind)
		}
	}

	oob, ok := write.Checks[1].Check.(*check.WriteOutOfBounds)
	if !ok {
		t.Fatalf("the second check is a %T, want *check.WriteOutOfBounds", write.Checks[1].Check)
	}
	if !reflect.DeepEqual(oob.Indices, []int{-1, 10, 11, 1000000}) || oob.Errno != "EINVAL" {
		t.Errorf("out-of-bounds parameters = %v, %q", oob.Indices, oob.Errno)
	}
}

func TestMilestone1Plan(t *testing.T) {
	r := loadMilestone1(t)

	var names []string
	for _, run := range r.Plan().Runs {
		names = append(names, run.Name)
	}
	want := []string{"lifecycle", "write-in-bounds", "write-out-of-bounds", "read-entries"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("Plan() runs = %v, want %v", names, want)
	}
}

// lines joins YAML lines, so that a case's line numbers can be counted.
func lines(l ...string) []byte {
	return []byte(strings.Join(l, "\n") + "\n")
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		yaml   []byte
		pos    string
		phrase string
	}{
		{
			name:   "unknown top-level field",
			yaml:   lines("nmae: m1", "items: []"),
			pos:    "f.yaml:1:1: ",
			phrase: `the rubric has no field "nmae"`,
		},
		{
			name:   "no items",
			yaml:   lines("name: m1", "items: []"),
			pos:    "f.yaml:2:8: ",
			phrase: "items must be a list of at least one item",
		},
		{
			name: "item without points",
			yaml: lines(
				"items:",
				"  - name: load",
				"    checks:",
				"      - kind: memory"),
			pos:    "f.yaml:2:5: ",
			phrase: `item "load" has no points`,
		},
		{
			name: "points 0",
			yaml: lines(
				"items:",
				"  - name: load",
				"    points: 0",
				"    checks:",
				"      - kind: memory"),
			pos:    "f.yaml:3:13: ",
			phrase: "points must be a number above 0",
		},
		{
			name: "negative points",
			yaml: lines(
				"items:",
				"  - name: load",
				"    points: -5",
				"    checks:",
				"      - kind: memory"),
			pos:    "f.yaml:3:13: ",
			phrase: "points must be a number above 0",
		},
		{
			name: "item without checks",
			yaml: lines(
				"items:",
				"  - name: load",
				"    points: 5"),
			pos:    "f.yaml:2:5: ",
			phrase: "needs checks",
		},
		{
			name: "unknown check kind",
			yaml: lines(
				"items:",
				"  - name: load",
				"    points: 5",
				"    checks:",
				"      - kind: load_msg"),
			pos:    "f.yaml:5:15: ",
			phrase: `unknown check kind "load_msg"`,
		},
		{
			name: "unknown field for the kind",
			yaml: lines(
				"items:",
				"  - name: write",
				"    points: 40",
				"    checks:",
				"      - kind: write_out_of_bounds",
				"        path: /proc/csse332/status",
				"        length: 10",
				"        indicies: [-1, 10]"),
			pos:    "f.yaml:8:9: ",
			phrase: `has no field "indicies"`,
		},
		{
			name: "string for length",
			yaml: lines(
				"items:",
				"  - name: write",
				"    points: 40",
				"    checks:",
				"      - kind: write_in_bounds",
				"        path: /proc/csse332/status",
				"        length: ten"),
			pos:    "f.yaml:5:9: ",
			phrase: "cannot unmarshal !!str `ten` into int",
		},
		{
			name: "duplicate parameter of a check",
			yaml: lines(
				"items:",
				"  - name: memory",
				"    points: 20",
				"    checks:",
				"      - kind: memory",
				"        min_allocations: 1",
				"        min_allocations: 2"),
			pos:    "f.yaml:7:9: ",
			phrase: `has "min_allocations" twice (first on line 6)`,
		},
		{
			name: "duplicate points of an item",
			yaml: lines(
				"items:",
				"  - name: memory",
				"    points: 5",
				"    points: 50",
				"    checks:",
				"      - kind: memory"),
			pos:    "f.yaml:4:5: ",
			phrase: `item has "points" twice (first on line 3)`,
		},
		{
			name: "duplicate kind of a check",
			yaml: lines(
				"items:",
				"  - name: memory",
				"    points: 5",
				"    checks:",
				"      - kind: memory",
				"        kind: shell"),
			pos:    "f.yaml:6:9: ",
			phrase: `has "kind" twice (first on line 5)`,
		},
		{
			name: "some checks weighted, others not",
			yaml: lines(
				"items:",
				"  - name: write",
				"    points: 40",
				"    checks:",
				"      - kind: write_in_bounds",
				"        weight: 1",
				"        path: /proc/csse332/status",
				"        length: 10",
				"      - kind: write_out_of_bounds",
				"        path: /proc/csse332/status",
				"        length: 10"),
			pos:    "f.yaml:5:7: ",
			phrase: "give every check a weight, or none",
		},
		{
			name: "zero weight",
			yaml: lines(
				"items:",
				"  - name: memory",
				"    points: 20",
				"    checks:",
				"      - kind: memory",
				"        weight: 0"),
			pos:    "f.yaml:6:17: ",
			phrase: "weight must be a number above 0",
		},
		{
			name: "out-of-bounds index inside the array",
			yaml: lines(
				"items:",
				"  - name: write",
				"    points: 40",
				"    checks:",
				"      - kind: write_out_of_bounds",
				"        path: /proc/csse332/status",
				"        length: 10",
				"        indices: [-1, 5, 10]"),
			pos:    "f.yaml:5:9: ",
			phrase: "index 5 is inside the array (0..9)",
		},
		{
			name: "proc_entry with a non-octal mode",
			yaml: lines(
				"items:",
				"  - name: proc",
				"    points: 10",
				"    checks:",
				"      - kind: proc_entry",
				"        dir: /proc/csse332",
				"        file: /proc/csse332/status",
				`        mode: "0968"`),
			pos:    "f.yaml:5:9: ",
			phrase: `mode "0968" is not an octal number`,
		},
		{
			name: "shell check that cannot fail",
			yaml: lines(
				"items:",
				"  - name: shell",
				"    points: 5",
				"    checks:",
				"      - kind: shell",
				"        command: cat /proc/csse332/status"),
			pos:    "f.yaml:5:9: ",
			phrase: "give expect, exit or match_reference",
		},
		{
			name: "step timeout out of range",
			yaml: lines(
				"timeouts:",
				"  step_seconds: 0",
				"items: []"),
			pos:    "f.yaml:2:17: ",
			phrase: "step_seconds must be between 0 and 3600",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rubric.Parse("f.yaml", tt.yaml)
			var e *rubric.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse() error = %v, want a *rubric.Error", err)
			}
			msg := e.Error()
			if !strings.HasPrefix(msg, tt.pos) || !strings.Contains(msg, tt.phrase) {
				t.Errorf("Parse() error = %q, want prefix %q and %q", msg, tt.pos, tt.phrase)
			}
		})
	}
}

// TestParseUnreadable covers text that is not a rubric at all. Only the file
// is asserted as a prefix: a YAML syntax error carries its line in the
// message, not in Error.Line.
func TestParseUnreadable(t *testing.T) {
	tests := []struct {
		name   string
		yaml   []byte
		phrase string
	}{
		{"empty file", nil, "the rubric is empty"},
		{"only a comment", lines("# nothing yet"), "the rubric is empty"},
		{"invalid YAML", lines("items:", "  - name: x", "    points: [5"), "did not find expected"},
		{"bad indentation", lines("items:", "  - name: x", "   points: 5"), "did not find"},
	}
	// yaml says on which line it gave up; it gives no column.
	wantPrefix := map[string]string{"invalid YAML": "f.yaml:2: ", "bad indentation": "f.yaml:1: "}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rubric.Parse("f.yaml", tt.yaml)
			var e *rubric.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse() error = %v, want a *rubric.Error", err)
			}
			prefix := "f.yaml: "
			if p, ok := wantPrefix[tt.name]; ok {
				prefix = p
			}
			if e.File != "f.yaml" || !strings.HasPrefix(e.Error(), prefix) ||
				!strings.Contains(e.Msg, tt.phrase) {
				t.Errorf("Parse() error = %q, want f.yaml and %q", e.Error(), tt.phrase)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	r, err := rubric.Parse("rubrics/r.yaml", lines(
		"items:",
		"  - name: Shell output",
		"    points: 3",
		"    checks:",
		"      - kind: shell",
		"        command: cat /proc/a",
		"        exit: 0",
		"      - kind: shell",
		"        command: cat /proc/b",
		"        exit: 0"))
	if err != nil {
		t.Fatal(err)
	}

	it := r.Items[0]
	if it.Short != "Shell output" {
		t.Errorf("Short = %q, want the item's name", it.Short)
	}
	var ids, names []string
	for _, c := range it.Checks {
		ids = append(ids, c.ID)
		names = append(names, c.Name)
	}
	if want := []string{"shell", "shell-2"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("check IDs = %v, want %v", ids, want)
	}
	if want := []string{"shell", "shell"}; !reflect.DeepEqual(names, want) {
		t.Errorf("check names = %v, want %v (the kind)", names, want)
	}
	if r.Reference != "" || r.StepTimeout != 20*time.Second || r.BootTimeout != 120*time.Second {
		t.Errorf("defaults = %q, %v, %v", r.Reference, r.StepTimeout, r.BootTimeout)
	}
}

func TestParseBuildAndKernel(t *testing.T) {
	r, err := rubric.Parse("rubrics/r.yaml", lines(
		"build: {proc_ops_compat: true}",
		"kernel:",
		"  image: kernels/vmlinuz-5.4.0",
		"  headers: /usr/src/linux-headers-5.4.0",
		"items:",
		"  - name: Loads",
		"    points: 5",
		"    checks:",
		"      - kind: load_message"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.ProcOpsCompat || r.KernelImage != filepath.Join("rubrics", "kernels", "vmlinuz-5.4.0") ||
		r.KernelHeaders != "/usr/src/linux-headers-5.4.0" {
		t.Errorf("build and kernel: %v %q %q", r.ProcOpsCompat, r.KernelImage, r.KernelHeaders)
	}

	_, err = rubric.Parse("r.yaml", lines("build: {compat: true}", "items: []"))
	if err == nil || !strings.HasPrefix(err.Error(), "r.yaml:1:9: build has no field \"compat\"") {
		t.Errorf("an unknown build setting: %v", err)
	}
}
