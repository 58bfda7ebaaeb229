// Package rubric loads a grading rubric from YAML: items with their points,
// each mapped to checks of the kinds the check package defines.
package rubric

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"kmodgrade/grader/check"
)

// Rubric is a loaded rubric.
type Rubric struct {
	// Path is the file the rubric was loaded from.
	Path  string
	Name  string
	Title string
	// Reference is the reference module's folder, relative paths resolved
	// against the rubric's folder; empty if the rubric names none.
	Reference string
	// ProcOpsCompat lets proc_create take a pre-5.6 file_operations table,
	// so that modules written for older kernels build on newer ones.
	ProcOpsCompat bool
	// KernelImage and KernelHeaders name the guest kernel to grade with,
	// relative paths resolved against the rubric's folder; empty means the
	// grader's default (or its --kernel and --kdir flags).
	KernelImage   string
	KernelHeaders string
	// StepTimeout bounds each step in the guest; BootTimeout each boot;
	// BuildTimeout each submission's build.
	StepTimeout  time.Duration
	BootTimeout  time.Duration
	BuildTimeout time.Duration
	Items        []*Item
}

// Item is one line of the rubric: points for a feature.
type Item struct {
	Name string
	// Short is the item's column heading in the table.
	Short  string
	Points float64
	Checks []*Check
	Line   int
}

// Check is a check of an item.
type Check struct {
	// ID is unique in the rubric, made from the kind; steps are keyed by it.
	ID   string
	Kind string
	Name string
	// Weight is the check's share of its item's points; 0 when the rubric
	// gives none, and then the item is all or nothing.
	Weight float64
	check.Check
	Line int
}

// Error is a problem in a rubric file, with where it is.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Load reads and checks the rubric at path.
func Load(path string) (*Rubric, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read rubric: %w", err)
	}
	return Parse(path, data)
}

// Parse checks a rubric's text; path is used for errors and relative paths.
func Parse(path string, data []byte) (*Rubric, error) {
	p := &parser{file: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(path, err)
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: path, Msg: "the rubric is empty"}
	}
	r, err := p.rubric(doc.Content[0])
	if err != nil {
		return nil, err
	}
	return r, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns yaml's "yaml: line 3: did not find ..." into an Error
// with the line in its place.
func syntaxError(path string, err error) *Error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: path, Line: line, Msg: m[2]}
	}
	return &Error{File: path, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
}

type parser struct {
	file string
	ids  map[string]int
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) error {
	return &Error{File: p.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// fields returns the keys and values of a mapping, failing on a key not in
// allowed.
func (p *parser) fields(n *yaml.Node, what string, allowed ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, "%s must be a mapping of fields", what)
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if prev, ok := out[k.Value]; ok {
			return nil, p.errorf(k, "%s has %q twice (first on line %d)", what, k.Value, prev.Line)
		}
		if !contains(allowed, k.Value) {
			return nil, p.errorf(k, "%s has no field %q (it has: %s)", what, k.Value, strings.Join(allowed, ", "))
		}
		out[k.Value] = v
	}
	return out, nil
}

func (p *parser) rubric(n *yaml.Node) (*Rubric, error) {
	f, err := p.fields(n, "the rubric", "name", "title", "reference", "build", "kernel", "timeouts", "items")
	if err != nil {
		return nil, err
	}
	r := &Rubric{Path: p.file, StepTimeout: 20 * time.Second, BootTimeout: 120 * time.Second,
		BuildTimeout: 120 * time.Second}
	if err := p.decode(f, "name", &r.Name); err != nil {
		return nil, err
	}
	if err := p.decode(f, "title", &r.Title); err != nil {
		return nil, err
	}
	if err := p.decode(f, "reference", &r.Reference); err != nil {
		return nil, err
	}
	r.Reference = p.path(r.Reference)
	if b, ok := f["build"]; ok {
		bf, err := p.fields(b, "build", "proc_ops_compat")
		if err != nil {
			return nil, err
		}
		if err := p.decode(bf, "proc_ops_compat", &r.ProcOpsCompat); err != nil {
			return nil, err
		}
	}
	if k, ok := f["kernel"]; ok {
		kf, err := p.fields(k, "kernel", "image", "headers")
		if err != nil {
			return nil, err
		}
		if err := p.decode(kf, "image", &r.KernelImage); err != nil {
			return nil, err
		}
		if err := p.decode(kf, "headers", &r.KernelHeaders); err != nil {
			return nil, err
		}
		r.KernelImage, r.KernelHeaders = p.path(r.KernelImage), p.path(r.KernelHeaders)
	}
	if t, ok := f["timeouts"]; ok {
		if err := p.timeouts(t, r); err != nil {
			return nil, err
		}
	}
	items, ok := f["items"]
	if !ok {
		return nil, p.errorf(n, "the rubric has no items")
	}
	if items.Kind != yaml.SequenceNode || len(items.Content) == 0 {
		return nil, p.errorf(items, "items must be a list of at least one item")
	}
	p.ids = map[string]int{}
	for _, in := range items.Content {
		it, err := p.item(in)
		if err != nil {
			return nil, err
		}
		r.Items = append(r.Items, it)
	}
	return r, nil
}

func (p *parser) timeouts(n *yaml.Node, r *Rubric) error {
	f, err := p.fields(n, "timeouts", "step_seconds", "boot_seconds", "build_seconds")
	if err != nil {
		return err
	}
	for key, dst := range map[string]*time.Duration{"step_seconds": &r.StepTimeout,
		"boot_seconds": &r.BootTimeout, "build_seconds": &r.BuildTimeout} {
		var secs float64
		if err := p.decode(f, key, &secs); err != nil {
			return err
		}
		if v, ok := f[key]; ok {
			if secs <= 0 || secs > 3600 {
				return p.errorf(v, "%s must be between 0 and 3600", key)
			}
			*dst = time.Duration(secs * float64(time.Second))
		}
	}
	return nil
}

func (p *parser) item(n *yaml.Node) (*Item, error) {
	f, err := p.fields(n, "an item", "name", "short", "points", "checks")
	if err != nil {
		return nil, err
	}
	it := &Item{Line: n.Line}
	if err := p.decode(f, "name", &it.Name); err != nil {
		return nil, err
	}
	if it.Name == "" {
		return nil, p.errorf(n, "the item has no name")
	}
	what := fmt.Sprintf("item %q", it.Name)
	if err := p.decode(f, "short", &it.Short); err != nil {
		return nil, err
	}
	if it.Short == "" {
		it.Short = it.Name
	}
	pts, ok := f["points"]
	if !ok {
		return nil, p.errorf(n, "%s has no points", what)
	}
	if err := p.decode(f, "points", &it.Points); err != nil {
		return nil, err
	}
	if it.Points <= 0 || math.IsInf(it.Points, 0) || math.IsNaN(it.Points) {
		return nil, p.errorf(pts, "%s: points must be a number above 0", what)
	}
	checks, ok := f["checks"]
	if !ok || checks.Kind != yaml.SequenceNode || len(checks.Content) == 0 {
		return nil, p.errorf(n, "%s needs checks: a list of at least one check", what)
	}
	weighted := 0
	for _, cn := range checks.Content {
		c, err := p.check(cn, what)
		if err != nil {
			return nil, err
		}
		if c.Weight > 0 {
			weighted++
		}
		it.Checks = append(it.Checks, c)
	}
	if weighted > 0 && weighted < len(it.Checks) {
		return nil, p.errorf(checks, "%s: give every check a weight, or none", what)
	}
	return it, nil
}

// common are the fields every check has; the others belong to its kind.
var common = []string{"kind", "name", "weight"}

func (p *parser) check(n *yaml.Node, item string) (*Check, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, "a check of %s must be a mapping with a kind", item)
	}
	var kind *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kind = n.Content[i+1]
		}
	}
	if kind == nil {
		return nil, p.errorf(n, "a check of %s has no kind (kinds: %s)", item, strings.Join(check.Kinds(), ", "))
	}
	impl, ok := check.New(kind.Value)
	if !ok {
		return nil, p.errorf(kind, "unknown check kind %q (kinds: %s)", kind.Value, strings.Join(check.Kinds(), ", "))
	}
	what := fmt.Sprintf("check %s of %s", kind.Value, item)
	f, err := p.fields(n, what, append(common, yamlFields(impl)...)...)
	if err != nil {
		return nil, err
	}
	c := &Check{Kind: kind.Value, Check: impl, Line: n.Line}
	if err := p.decode(f, "name", &c.Name); err != nil {
		return nil, err
	}
	if c.Name == "" {
		c.Name = kind.Value
	}
	if err := p.decode(f, "weight", &c.Weight); err != nil {
		return nil, err
	}
	if w, ok := f["weight"]; ok && (c.Weight <= 0 || math.IsInf(c.Weight, 0) || math.IsNaN(c.Weight)) {
		return nil, p.errorf(w, "%s: weight must be a number above 0", what)
	}
	params := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !contains(common, n.Content[i].Value) {
			params.Content = append(params.Content, n.Content[i], n.Content[i+1])
		}
	}
	if err := params.Decode(impl); err != nil {
		return nil, p.errorf(n, "%s: %s", what, strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  "))
	}
	if err := impl.Validate(); err != nil {
		return nil, p.errorf(n, "%s: %v", what, err)
	}
	c.ID = p.id(kind.Value)
	return c, nil
}

// path resolves a path of the rubric against the rubric's folder.
func (p *parser) path(s string) string {
	if s == "" || filepath.IsAbs(s) {
		return s
	}
	return filepath.Join(filepath.Dir(p.file), s)
}

// id makes a unique id from the kind: write-in-bounds, write-in-bounds-2.
func (p *parser) id(kind string) string {
	base := strings.ReplaceAll(kind, "_", "-")
	p.ids[base]++
	if n := p.ids[base]; n > 1 {
		return fmt.Sprintf("%s-%d", base, n)
	}
	return base
}

// decode decodes field key, if present, into dst.
func (p *parser) decode(f map[string]*yaml.Node, key string, dst any) error {
	v, ok := f[key]
	if !ok {
		return nil
	}
	if err := v.Decode(dst); err != nil {
		return p.errorf(v, "%s: %s", key, strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  "))
	}
	return nil
}

// yamlFields lists the yaml names of a kind's parameters.
func yamlFields(v any) []string {
	t := reflect.TypeOf(v).Elem()
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MaxScore is the sum of the items' points.
func (r *Rubric) MaxScore() float64 {
	total := 0.0
	for _, it := range r.Items {
		total += it.Points
	}
	return total
}

// Plan returns the runs and steps that every check of the rubric needs.
func (r *Rubric) Plan() *check.Plan {
	p := &check.Plan{}
	p.Run(check.LifecycleRun) // always first: it shows whether the module loads at all
	for _, it := range r.Items {
		for _, c := range it.Checks {
			c.Plan(p, c.ID)
		}
	}
	return p
}
