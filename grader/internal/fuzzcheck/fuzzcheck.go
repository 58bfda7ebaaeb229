// Package fuzzcheck holds what the fuzz tests of the parsers share.
package fuzzcheck

import (
	"fmt"
	"runtime/debug"
	"testing"
	"time"
)

// NoHang runs fn, failing the test if fn panics or does not return within
// limit. Go's fuzzing engine has no limit of its own on one input: it
// would wait for a hung call until -fuzztime ends, and then pass.
func NoHang(t *testing.T, limit time.Duration, fn func()) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		fn()
		done <- ""
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case msg := <-done:
		if msg != "" {
			t.Fatal(msg)
		}
	case <-timer.C:
		t.Fatalf("still running after %v: a hang", limit)
	}
}
