package guestagent

import (
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/flood"
)

// TestOneByteFlood is the regression test of the review's slot exhaustion:
// 1,000 connections that each send one byte and reconnect when closed used
// to fill every slot, /health answered 503 for seconds and RSS grew to
// 10.9 MB. Now stalled heads are evicted first and parked: /health and
// /metrics keep answering (p99 well under a second), RSS stays under 8 MB, and 30 s
// after the flood it is within 2 MiB of the agent's idle footprint before
// it. (The review asked for under 4 MB; the idle agent itself settles at
// about 4.1 MB on this machine, and the Go runtime keeps about 1.2 to
// 1.6 MB of stack-pool spans and poller descriptors after a flood for good,
// while the heap returns to its idle size. docs/security.md has the
// figures.)
func TestOneByteFlood(t *testing.T) {
	a := start(t, "--listen", "127.0.0.1:0")
	pid := a.cmd.Process.Pid
	time.Sleep(22 * time.Second) // past two memory releases: the idle footprint
	idle := rssKB(t, pid)
	var maxRSS uint64
	res := flood.Run(a.addr, "x", 1000, 8*time.Second, []string{"/health", "/metrics"},
		func() { maxRSS = max(maxRSS, rssKB(t, pid)) })
	t.Logf("under 1,000 one-byte connections: %d probes, %d failed, p50 %v, p99 %v, RSS max %d kB",
		res.Probes, res.Failed, res.P50, res.P99, maxRSS)
	// The regression failed nearly every probe for seconds; on a loaded
	// shared machine one probe in a few hundred can miss its 2 s deadline
	// (seen once: 1 of 390), so more than 1 % fails the test.
	if res.Failed*100 > res.Probes {
		t.Errorf("%d of %d probes failed, more than 1 %%", res.Failed, res.Probes)
	}
	// The regression answered in seconds, or not at all; the bound sits
	// well above what a loaded shared machine adds (p99 of 30-70 ms was
	// seen with make test's packages running beside it), and the latency
	// itself is bench's to measure.
	if res.P99 > 250*time.Millisecond {
		t.Errorf("p99 %v, want under 250 ms", res.P99)
	}
	if maxRSS > 8*1024 {
		t.Errorf("RSS reached %d kB, want under 8 MB", maxRSS)
	}
	time.Sleep(30 * time.Second)
	after := rssKB(t, pid)
	t.Logf("RSS %d kB 30 s after the flood; %d kB idle before it", after, idle)
	if after > idle+2048 {
		t.Errorf("RSS %d kB 30 s after the flood, want within 2 MiB of the idle %d kB", after, idle)
	}
}
