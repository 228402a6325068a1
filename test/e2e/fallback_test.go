package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// checkFallback kills the agent in the stressed guest: within two poll intervals
// (plus schedulingMargin) the manager reports its QEMU process's figures from
// the host agent, the idle guest still reports from its own agent throughout,
// and an agent started again in the guest brings the guest source back.
func (s *system) checkFallback(t *testing.T, victim, other *guest) {
	watch := s.watchSamples(other)
	victim.run(t, "killall guest-agent")
	killed := time.Now()
	within := 2*pollInterval + schedulingMargin
	smp := s.waitFor(t, victim, within, "host-side figures after the agent was killed", func(smp wire.CombinedSample) bool {
		return isSource(wire.SourceHost)(smp) && smp.TimestampMs >= killed.UnixMilli()
	})
	t.Logf("%s: source host %v after its agent was killed (limit %v)", victim.Name,
		time.Since(killed).Round(10*time.Millisecond), within)
	if smp.GuestAgent.Reachable || smp.GuestAgent.LastError == "" || smp.CPUUsagePercent == nil ||
		smp.MemoryUsedKB == nil || smp.MemoryTotalKB != nil {
		t.Errorf("%s: host sample %s; want CPU and memory used from QEMU, no memory total, the agent unreachable", victim.Name, show(smp))
	}
	// The figures are the QEMU process's, as the host agent sees it.
	var ps wire.ProcessStats
	path := fmt.Sprintf("/metrics/process-stats?pid=%d", victim.vm.PID())
	if err := hostGet(s.hostAgentURL+path, &ps); err != nil {
		t.Fatal(err)
	}
	if rss, used := float64(ps.MemoryRSSKB), float64(*smp.MemoryUsedKB); used < 0.8*rss || used > 1.2*rss {
		t.Errorf("%s: memory_used_kb %v, but QEMU's resident set is %v kB", victim.Name, used, rss)
	}
	t.Logf("%s: host figures cpu %.1f %% (QEMU's share of one core), rss %d kB", victim.Name, *smp.CPUUsagePercent, ps.MemoryRSSKB)

	victim.run(t, vmtest.GuestAgentPath+" --listen 0.0.0.0:8080 --interval 1s >>"+vmtest.GuestAgentLog+" 2>&1 &")
	restarted := time.Now()
	s.waitFor(t, victim, 20*time.Second, "guest figures after the agent restarted", isSource(wire.SourceGuest))
	t.Logf("%s: source guest again %v after its agent restarted", victim.Name, time.Since(restarted).Round(10*time.Millisecond))

	// The other guest is watched for at least four poll intervals from the
	// kill, so its samples say something even when fallback and recovery
	// were quick.
	if watched := time.Since(killed); watched < 4*pollInterval {
		time.Sleep(4*pollInterval - watched)
	}
	seen := watch()
	if len(seen) < 3 {
		t.Errorf("%s: only %d samples while the other guest's agent was down", other.Name, len(seen))
	}
	// A TCG guest on a host overloaded by other work can miss one poll's
	// deadline on its own; one such timeout is tolerated, anything else (the
	// kill showed up as "network": connection reset) is not.
	timeouts := 0
	for _, o := range seen {
		if o.Source == wire.SourceGuest && !o.Stale && o.GuestAgent.Reachable {
			continue
		}
		if strings.HasPrefix(o.GuestAgent.LastError, "timeout:") && timeouts == 0 {
			timeouts++
			t.Logf("%s: one poll timed out (host overloaded?): %s", other.Name, show(o))
			continue
		}
		t.Errorf("%s was affected: sample %s", other.Name, show(o))
	}
}

// watchSamples records g's distinct samples until the returned function is
// called, which returns them.
func (s *system) watchSamples(g *guest) func() []wire.CombinedSample {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var seen []wire.CombinedSample
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last int64
		for ctx.Err() == nil {
			if smp, err := s.client.Latest(ctx, g.id); err == nil && smp.TimestampMs != last {
				last = smp.TimestampMs
				mu.Lock()
				seen = append(seen, smp)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() []wire.CombinedSample {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// collect records the distinct samples of the guests for d.
func (s *system) collect(t *testing.T, d time.Duration, guests ...*guest) map[string][]wire.CombinedSample {
	t.Helper()
	stops := make([]func() []wire.CombinedSample, len(guests))
	for i, g := range guests {
		stops[i] = s.watchSamples(g)
	}
	time.Sleep(d)
	out := map[string][]wire.CombinedSample{}
	for i, g := range guests {
		out[g.id] = stops[i]()
	}
	return out
}

// hostGet decodes a JSON answer of the host agent.
func hostGet(url string, out any) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func show(s wire.CombinedSample) string {
	b, _ := json.Marshal(s)
	return string(b)
}
