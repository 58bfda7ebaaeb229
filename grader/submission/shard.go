package submission

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Shard is one of N parts of a class, for grading a class on many machines
// at once: shard I of N (counting from 0) holds the submissions whose rank
// among the class's IDs, in sorted order, is I modulo N. The split depends
// only on the set of IDs, never on the order the submissions were given in,
// so every task of a job array that sees the same class agrees on it, and
// the shards differ in size by at most one.
type Shard struct {
	I, N int
}

// ParseShard reads "I/N". The empty string and "auto" take the shard from
// a Slurm array job's SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, and
// mean the whole class (shard 0 of 1) outside one.
func ParseShard(s string) (Shard, error) {
	if s == "" || s == "auto" {
		return slurmShard()
	}
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want I/N, such as 0/4", s)
	}
	return newShard(i, n, s)
}

func newShard(i, n int, s string) (Shard, error) {
	if n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("shard %q: want 0 <= I < N", s)
	}
	return Shard{I: i, N: n}, nil
}

// slurmShard is the shard of a task of a Slurm array job. Slurm numbers
// the tasks as its --array option said, so an array must run 0 to N-1 for
// its tasks to share the class out whole; a task rerun alone (an array of
// one) must be given its shard explicitly.
func slurmShard() (Shard, error) {
	id, count := os.Getenv("SLURM_ARRAY_TASK_ID"), os.Getenv("SLURM_ARRAY_TASK_COUNT")
	if id == "" || count == "" {
		return Shard{I: 0, N: 1}, nil
	}
	s := id + "/" + count
	i, err1 := strconv.Atoi(id)
	n, err2 := strconv.Atoi(count)
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT: not numbers", s)
	}
	sh, err := newShard(i, n, s)
	if err != nil {
		return Shard{}, fmt.Errorf("%w (from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT: "+
			"number the array 0 to N-1, or give --shard)", err)
	}
	return sh, nil
}

// Whole reports whether the shard is the whole class.
func (sh Shard) Whole() bool { return sh.N <= 1 }

// String is the shard as ParseShard reads it.
func (sh Shard) String() string { return fmt.Sprintf("%d/%d", sh.I, sh.N) }

// Of returns the shard's submissions, in the order given.
func (sh Shard) Of(subs []Submission) []Submission {
	if sh.Whole() {
		return subs
	}
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.ID
	}
	slices.Sort(ids)
	rank := make(map[string]int, len(ids))
	for r, id := range ids {
		rank[id] = r
	}
	var out []Submission
	for _, s := range subs {
		if rank[s.ID]%sh.N == sh.I {
			out = append(out, s)
		}
	}
	return out
}
