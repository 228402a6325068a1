package sampler

import (
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/procfs"
)

// fsEntry is a mounted filesystem and its usage.
type fsEntry struct {
	mount procfs.Mount
	usage procfs.FSUsage
}

// statfsGuard calls statfs with a time limit. statfs on a dead network
// filesystem can block for minutes; such a mount is left out of samples
// until its pending call returns, so one bad mount never stalls sampling
// and never piles up goroutines.
type statfsGuard struct {
	statfs  func(string) (procfs.FSUsage, error)
	timeout time.Duration

	mu      sync.Mutex
	pending map[string]bool // mount points with a statfs call under way
}

func newStatfsGuard(statfs func(string) (procfs.FSUsage, error), timeout time.Duration) *statfsGuard {
	return &statfsGuard{statfs: statfs, timeout: timeout, pending: make(map[string]bool)}
}

type statfsResult struct {
	usage procfs.FSUsage
	err   error
}

// usages returns the usage of each mount that answered in time. Mounts
// whose statfs fails (permission, vanished) are left out silently: they
// change nothing about the rest of the sample.
func (g *statfsGuard) usages(mounts []procfs.Mount) []fsEntry {
	out := make([]fsEntry, 0, len(mounts))
	for _, m := range mounts {
		if u, ok := g.usage(m.MountPoint); ok {
			out = append(out, fsEntry{mount: m, usage: u})
		}
	}
	return out
}

func (g *statfsGuard) usage(path string) (procfs.FSUsage, bool) {
	g.mu.Lock()
	if g.pending[path] {
		g.mu.Unlock()
		return procfs.FSUsage{}, false
	}
	g.pending[path] = true
	g.mu.Unlock()
	done := make(chan statfsResult, 1)
	go func() {
		u, err := g.statfs(path)
		g.mu.Lock()
		delete(g.pending, path)
		g.mu.Unlock()
		done <- statfsResult{u, err}
	}()
	timer := time.NewTimer(g.timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.usage, r.err == nil
	case <-timer.C:
		return procfs.FSUsage{}, false // still pending: skipped until it returns
	}
}
