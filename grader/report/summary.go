package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"kmodgrade/grader/grade"
)

// Summary writes, for the class, how many got each item's full points and
// the item's mean, then a histogram of the totals.
func Summary(w io.Writer, results []*grade.Result) {
	if len(results) == 0 || len(results[0].Items) == 0 {
		return
	}
	n := float64(len(results))
	fmt.Fprintf(w, "\nSummary of %d submissions:\n", len(results))
	fmt.Fprintf(w, "  %-12s %12s %8s\n", "item", "full points", "mean")
	for i, it := range results[0].Items {
		full, sum := 0, 0.0
		for _, r := range results {
			if i < len(r.Items) {
				sum += r.Items[i].Score
				if r.Items[i].Score == r.Items[i].MaxScore {
					full++
				}
			}
		}
		fmt.Fprintf(w, "  %-12s %12s %8s\n", short(it)+" /"+num(it.MaxScore),
			fmt.Sprintf("%d of %d", full, len(results)), num(round1(sum/n)))
	}
	total := 0.0
	for _, r := range results {
		total += r.Score
	}
	fmt.Fprintf(w, "  %-12s %12s %8s\n", "total /"+num(results[0].MaxScore), "", num(round1(total/n)))
	histogram(w, results)
}

func short(it grade.ItemResult) string {
	if it.Short != "" {
		return it.Short
	}
	return it.Name
}

// histogram draws the totals in ten bins of a tenth of the maximum each.
func histogram(w io.Writer, results []*grade.Result) {
	const bins, width = 10, 40
	top := results[0].MaxScore
	if top <= 0 {
		return
	}
	counts := make([]int, bins)
	most := 0
	for _, r := range results {
		b := int(math.Floor(r.Score * bins / top))
		b = min(max(b, 0), bins-1)
		counts[b]++
		most = max(most, counts[b])
	}
	fmt.Fprintf(w, "\nTotals:\n")
	for b := bins - 1; b >= 0; b-- {
		lo, hi := top*float64(b)/bins, top*float64(b+1)/bins
		bracket := ")"
		if b == bins-1 {
			bracket = "]"
		}
		bar := strings.Repeat("█", (counts[b]*width+most-1)/max(most, 1))
		fmt.Fprintf(w, "  [%5s, %5s%s %-*s %d\n", num(round1(lo)), num(round1(hi)), bracket, width, bar, counts[b])
	}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
