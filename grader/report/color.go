package report

import (
	"regexp"
	"strings"
)

// ANSI colours for a terminal.
const (
	bold   = "\x1b[1m"
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	cyan   = "\x1b[36m"
	normal = "\x1b[0m"
)

var (
	gradeLine = regexp.MustCompile(`^Grade: ([0-9.]+)/([0-9.]+)$`)
	itemLine  = regexp.MustCompile(`^\[([0-9.]+)/([0-9.]+)\] `)
)

// Colorize colours Feedback's text for a terminal: the grade in bold, each
// item green at full points and red otherwise, and the commands to see a
// problem by hand in cyan. Only line starts and ends change, so the text
// reads the same without colour.
func Colorize(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		switch m := gradeLine.FindStringSubmatch(l); {
		case m != nil:
			lines[i] = bold + colorFor(m[1], m[2]) + l + normal
		case itemLine.MatchString(l):
			m := itemLine.FindStringSubmatch(l)
			lines[i] = colorFor(m[1], m[2]) + l + normal
		case strings.HasPrefix(strings.TrimSpace(l), "to see it yourself: "):
			lines[i] = cyan + l + normal
		}
	}
	return strings.Join(lines, "\n")
}

func colorFor(score, max string) string {
	if score == max {
		return green
	}
	return red
}
