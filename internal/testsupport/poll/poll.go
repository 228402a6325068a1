// Package poll waits in tests for a condition that other processes make
// true: a server up, a figure arrived.
package poll

import (
	"testing"
	"time"
)

// Until checks ok every 100 ms until it holds, and fails t, naming what
// it waited for, when within passes first.
func Until(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
