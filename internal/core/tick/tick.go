// Package tick runs a function on a ticker until a context ends: the loop
// every sampler, pruner and publisher of fcmon runs.
package tick

import (
	"context"
	"time"
)

// Every calls f every d until ctx ends; the first call comes after d. A
// call that takes longer than d delays the next; ticks are not queued.
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// NowAndEvery calls f at once and then every d until ctx ends.
func NowAndEvery(ctx context.Context, d time.Duration, f func()) {
	f()
	Every(ctx, d, f)
}
