package report

import (
	"strings"
	"testing"
)

func TestColorize(t *testing.T) {
	in := "Grade: 100/120\n\n[5/5] Loads\n[0/20] Memory\n    - a leak\n      to see it yourself: dmesg\n"
	got := Colorize(in)
	for _, want := range []string{
		bold + red + "Grade: 100/120" + normal,
		green + "[5/5] Loads" + normal,
		red + "[0/20] Memory" + normal,
		"\n    - a leak\n",
		cyan + "      to see it yourself: dmesg" + normal,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Colorize() lacks %q:\n%q", want, got)
		}
	}
	plain := strings.NewReplacer(bold, "", red, "", green, "", cyan, "", normal, "").Replace(got)
	if plain != in {
		t.Errorf("without its colours, the text changed:\n%q\nwant\n%q", plain, in)
	}
	if full := Colorize("Grade: 120/120\n"); !strings.HasPrefix(full, bold+green) {
		t.Errorf("full marks are not green: %q", full)
	}
}
