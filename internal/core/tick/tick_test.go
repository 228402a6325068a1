package tick

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestEveryStopsWithItsContext: calls come each period, none after the
// context ends, and Every returns then.
func TestEveryStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Every(ctx, 5*time.Millisecond, func() {
			if n.Add(1) == 3 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if got := n.Load(); got != 3 {
		t.Errorf("%d calls, want 3 (none after the context ended)", got)
	}
}

// TestNowAndEveryCallsAtOnce: the first call comes before any period has
// passed, even when the context has already ended.
func TestNowAndEveryCallsAtOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	NowAndEvery(ctx, time.Hour, func() { n++ })
	if n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}
