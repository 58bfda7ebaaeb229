package submission

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func ids(subs []Submission) []string {
	var out []string
	for _, s := range subs {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return out
}

// TestShardPartition checks that the shards of a class cover it exactly
// once, differ in size by at most one, and do not depend on the order.
func TestShardPartition(t *testing.T) {
	var class []Submission
	for _, id := range []string{"ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo", "kim"} {
		class = append(class, Submission{ID: id})
	}
	for n := 1; n <= 13; n++ {
		seen := map[string]int{}
		sizes := []int{}
		for i := range n {
			part := Shard{I: i, N: n}.Of(class)
			sizes = append(sizes, len(part))
			for _, s := range part {
				seen[s.ID]++
			}
			shuffled := slices.Clone(class)
			rand.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
			if got, want := ids(Shard{I: i, N: n}.Of(shuffled)), ids(part); !slices.Equal(got, want) {
				t.Errorf("shard %d/%d of a shuffled class = %v, want %v", i, n, got, want)
			}
		}
		for _, s := range class {
			if seen[s.ID] != 1 {
				t.Errorf("N=%d: %s is in %d shards, want 1", n, s.ID, seen[s.ID])
			}
		}
		if slices.Max(sizes)-slices.Min(sizes) > 1 {
			t.Errorf("N=%d: shard sizes %v differ by more than one", n, sizes)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in, env string
		want    Shard
		bad     bool
	}{
		{in: "0/4", want: Shard{0, 4}},
		{in: "3/4", want: Shard{3, 4}},
		{in: "4/4", bad: true},
		{in: "-1/4", bad: true},
		{in: "1/0", bad: true},
		{in: "1", bad: true},
		{in: "a/b", bad: true},
		{in: "", want: Shard{0, 1}},
		{in: "auto", env: "2/3", want: Shard{2, 3}},
		{in: "", env: "5/3", bad: true},
		{in: "2/5", env: "0/3", want: Shard{2, 5}},
	} {
		t.Setenv("SLURM_ARRAY_TASK_ID", "")
		t.Setenv("SLURM_ARRAY_TASK_COUNT", "")
		if tc.env != "" {
			id, count, _ := strings.Cut(tc.env, "/")
			t.Setenv("SLURM_ARRAY_TASK_ID", id)
			t.Setenv("SLURM_ARRAY_TASK_COUNT", count)
		}
		got, err := ParseShard(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseShard(%q) with env %q = %v, want an error", tc.in, tc.env, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseShard(%q) with env %q = %v, %v; want %v", tc.in, tc.env, got, err, tc.want)
		}
	}
}
