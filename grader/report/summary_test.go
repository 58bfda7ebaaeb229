package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"kmodgrade/grader/grade"
)

// class makes a result per pair of item scores, on items of 10 and 30.
func class(scores ...[2]float64) []*grade.Result {
	var out []*grade.Result
	for i, s := range scores {
		out = append(out, &grade.Result{ID: fmt.Sprint("s", i), Score: s[0] + s[1], MaxScore: 40,
			Status: grade.StatusGraded, Items: []grade.ItemResult{
				{Name: "Loads", Short: "load", Score: s[0], MaxScore: 10},
				{Name: "Reads", Short: "read", Score: s[1], MaxScore: 30}}})
	}
	return out
}

// summary is Summary's output read back.
type summary struct {
	items map[string][2]string // "load /10": full points ("3 of 4"), mean
	bins  []bin                // from the highest
}

type bin struct {
	lo, hi float64
	count  int
}

func parseSummary(t *testing.T, out string) summary {
	t.Helper()
	s := summary{items: map[string][2]string{}}
	inBins := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(line, "Summary") || f[0] == "item":
		case line == "Totals:":
			inBins = true
		case inBins:
			// [   36,    40] ████ 2
			open, end := strings.Index(line, "["), strings.IndexAny(line, ")]")
			lohi := strings.Split(line[max(open, 0)+1:max(end, 0)], ",")
			if open < 0 || end < 0 || len(lohi) != 2 {
				t.Fatalf("histogram line %q", line)
			}
			lo, err1 := strconv.ParseFloat(strings.TrimSpace(lohi[0]), 64)
			hi, err2 := strconv.ParseFloat(strings.TrimSpace(lohi[1]), 64)
			n, err3 := strconv.Atoi(f[len(f)-1])
			if err1 != nil || err2 != nil || err3 != nil {
				t.Fatalf("histogram line %q", line)
			}
			s.bins = append(s.bins, bin{lo, hi, n})
		case f[0] == "total":
			s.items["total "+f[1]] = [2]string{"", f[2]}
		default:
			// load /10      3 of 4      7.5
			if len(f) != 6 {
				t.Fatalf("item line %q", line)
			}
			s.items[f[0]+" "+f[1]] = [2]string{strings.Join(f[2:5], " "), f[5]}
		}
	}
	return s
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name    string
		results []*grade.Result
		items   map[string][2]string
		bins    map[float64]int // a bin's lower end: its count, for bins not empty
	}{
		{
			name:    "spread",
			results: class([2]float64{10, 30}, [2]float64{10, 20}, [2]float64{0, 0}, [2]float64{5, 30}),
			items: map[string][2]string{"load /10": {"2 of 4", "6.3"}, "read /30": {"2 of 4", "20"},
				"total /40": {"", "26.3"}},
			bins: map[float64]int{36: 1, 32: 1, 28: 1, 0: 1},
		},
		{
			name:    "all full",
			results: class([2]float64{10, 30}, [2]float64{10, 30}),
			items: map[string][2]string{"load /10": {"2 of 2", "10"}, "read /30": {"2 of 2", "30"},
				"total /40": {"", "40"}},
			bins: map[float64]int{36: 2},
		},
		{
			name: "bin edges",
			results: class([2]float64{0, 4}, [2]float64{0, 3.5}, [2]float64{10, 10},
				[2]float64{10, 26}),
			items: map[string][2]string{"load /10": {"2 of 4", "5"}, "read /30": {"0 of 4", "10.9"},
				"total /40": {"", "15.9"}},
			bins: map[float64]int{36: 1, 20: 1, 4: 1, 0: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer

			Summary(&b, tt.results)

			s := parseSummary(t, b.String())
			for k, want := range tt.items {
				if got, ok := s.items[k]; !ok || got != want {
					t.Errorf("%s: got %q, want %q\n%s", k, got, want, b.String())
				}
			}
			if len(s.bins) != 10 {
				t.Fatalf("histogram has %d lines, want 10:\n%s", len(s.bins), b.String())
			}
			sum := 0
			for i, bn := range s.bins {
				sum += bn.count
				if want := 40 * float64(9-i) / 10; bn.lo != want || bn.hi != want+4 {
					t.Errorf("bin %d is [%g, %g), want [%g, %g)", i, bn.lo, bn.hi, want, want+4)
				}
				if bn.count != tt.bins[bn.lo] {
					t.Errorf("bin [%g, %g) holds %d, want %d\n%s", bn.lo, bn.hi, bn.count,
						tt.bins[bn.lo], b.String())
				}
			}
			if sum != len(tt.results) {
				t.Errorf("histogram counts add up to %d, want %d", sum, len(tt.results))
			}
		})
	}
}

func TestSummaryEmpty(t *testing.T) {
	var b bytes.Buffer
	Summary(&b, nil)
	if b.Len() != 0 {
		t.Errorf("Summary of no results wrote %q", b.String())
	}
}

// TestHistogramBoundary checks that a total on a bin's lower end is counted
// in that bin, whatever floating point makes of score/max*10.
func TestHistogramBoundary(t *testing.T) {
	res := []*grade.Result{{ID: "a", Score: 9.6, MaxScore: 12, Items: []grade.ItemResult{
		{Name: "all", Short: "all", Score: 9.6, MaxScore: 12}}}}
	var b strings.Builder
	Summary(&b, res)
	s := parseSummary(t, b.String())
	for _, bn := range s.bins {
		if bn.count == 1 && bn.lo != 9.6 {
			t.Errorf("9.6 of 12 counted in [%g, %g)", bn.lo, bn.hi)
		}
	}
}
