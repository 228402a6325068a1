package guestagent

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// tuneRuntime keeps the agent's footprint small in guests of any size:
// one P is plenty for an agent that answers from memory (a 64-vCPU guest
// would otherwise get 64 GC workers and per-P caches), and a lower GC
// target keeps the heap near its small live size. Explicit GOMAXPROCS and
// GOGC settings win.
func tuneRuntime() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

// releaseMemory returns freed heap pages to the kernel every period. The
// runtime's own scavenger is lazy, so after a burst of requests the agent
// would keep megabytes it no longer uses; in a small VM those belong to the
// workload. A forced collection of a heap this small costs well under a
// millisecond.
func releaseMemory(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			debug.FreeOSMemory()
		}
	}
}
