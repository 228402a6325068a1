package collector

import (
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

const testInterval = 200 * time.Millisecond

// grace absorbs scheduling delays of a loaded two-core machine running the
// race detector; the bounds asserted are the contract plus this much.
const grace = 250 * time.Millisecond

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

func isSource(src string) func(wire.CombinedSample) bool {
	return func(s wire.CombinedSample) bool { return s.Source == src }
}

// TestFallbackToHostAndBack runs a real guest agent and a real host agent:
// guest figures first, the VMM's within two intervals of the guest agent
// dying, the guest's again once it answers on a new address, and again
// after a restart on the same address, which only the capped backoff finds.
func TestFallbackToHostAndBack(t *testing.T) {
	host := startHostAgent(t, "127.0.0.1:0")
	guest := startGuestAgent(t, "127.0.0.1:0")
	vmm := startVMM(t)
	h := newHarness(t, testInterval, func(o *Options) { o.GuestBackoffMax = 4 * testInterval })
	ip, port := splitAddr(t, guest.addr)
	tg := Target{ID: "vm-fallback", GuestIP: ip, GuestPort: port, HostAgentURL: "http://" + host.addr, VMMPID: vmm}
	h.set(tg)

	r := h.waitSample(t, tg.ID, time.Time{}, 5*time.Second, "guest sample", isSource(wire.SourceGuest))
	s := r.s
	if s.MemoryTotalKB == nil || *s.MemoryTotalKB != fixtureMemTotalKB || s.CPUUsagePercent == nil ||
		s.MemoryUsedKB == nil || s.MemoryAvailableKB == nil || s.MemoryUsagePercent == nil || s.UptimeSeconds == nil {
		t.Fatalf("guest sample lacks the fixture's figures: %s", show(s))
	}
	if !s.GuestAgent.Reachable || s.GuestAgent.LastSuccessMs == 0 || s.GuestAgent.LastError != "" || s.Stale {
		t.Errorf("guest sample status: %+v stale=%v", s.GuestAgent, s.Stale)
	}
	if s.Network != nil && s.Network.Source != wire.RatesGuest {
		t.Errorf("no Firecracker here, yet network source %q", s.Network.Source)
	}

	guest.stop(syscall.SIGKILL)
	died := time.Now()
	r = h.waitSample(t, tg.ID, died, 2*testInterval+grace, "host sample after the guest agent died", isSource(wire.SourceHost))
	t.Logf("source host %v after the guest agent died", r.at.Sub(died))
	s = r.s
	if s.CPUUsagePercent == nil || s.MemoryUsedKB == nil || *s.MemoryUsedKB == 0 || s.UptimeSeconds == nil {
		t.Errorf("host sample lacks the VMM's figures: %s", show(s))
	}
	if s.MemoryTotalKB != nil || s.MemoryAvailableKB != nil || s.MemoryUsagePercent != nil {
		t.Errorf("host sample invents figures the host cannot know: %s", show(s))
	}
	if s.GuestAgent.Reachable || !strings.Contains(s.GuestAgent.LastError, agentclient.ReasonRefused) || s.GuestAgent.LastSuccessMs == 0 {
		t.Errorf("guest agent status after its death: %+v", s.GuestAgent)
	}
	for _, x := range h.samplesOf(tg.ID, died, time.Now()) {
		if x.s.Source == wire.SourceNone {
			t.Errorf("a round without figures although the host agent answers: %s", show(x.s))
		}
	}
	// Let the backoff grow before the agent returns.
	time.Sleep(6 * testInterval)

	guest = startGuestAgent(t, "127.0.0.1:0")
	ip, port = splitAddr(t, guest.addr)
	tg.GuestIP, tg.GuestPort = ip, port
	h.set(tg)
	back := time.Now()
	r = h.waitSample(t, tg.ID, back, 3*testInterval+grace, "guest sample at the new address", isSource(wire.SourceGuest))
	t.Logf("source guest %v after the new address was registered", r.at.Sub(back))

	// Same address: nothing tells the collector but its own retries.
	guest.stop(syscall.SIGKILL)
	h.waitSample(t, tg.ID, time.Now(), 2*testInterval+grace, "host sample", isSource(wire.SourceHost))
	time.Sleep(8 * testInterval)
	startGuestAgent(t, guest.addr)
	back = time.Now()
	r = h.waitSample(t, tg.ID, back, 4*testInterval+testInterval+grace, "guest sample after the backoff", isSource(wire.SourceGuest))
	t.Logf("source guest %v after a restart on the same address (backoff cap %v)", r.at.Sub(back), 4*testInterval)

	if ps := h.pollsOf(tg.ID, KindGuest); len(ps) == 0 {
		t.Error("no guest polls reported")
	}
}

// TestNoHostAgent: without a host agent a dead guest agent leaves a sample
// with no figures, source none, that turns stale after three intervals.
func TestNoHostAgent(t *testing.T) {
	guest := startGuestAgent(t, "127.0.0.1:0")
	h := newHarness(t, testInterval, nil)
	ip, port := splitAddr(t, guest.addr)
	tg := Target{ID: "vm-alone", GuestIP: ip, GuestPort: port}
	h.set(tg)
	h.waitSample(t, tg.ID, time.Time{}, 5*time.Second, "guest sample", isSource(wire.SourceGuest))
	guest.stop(syscall.SIGKILL)
	died := time.Now()
	r := h.waitSample(t, tg.ID, died, 2*testInterval+grace, "sample without source", isSource(wire.SourceNone))
	if r.s.CPUUsagePercent != nil || r.s.MemoryUsedKB != nil || r.s.Network != nil || r.s.Disk != nil {
		t.Errorf("source none carries figures: %s", show(r.s))
	}
	r = h.waitSample(t, tg.ID, died, 5*testInterval+grace, "stale sample", func(s wire.CombinedSample) bool { return s.Stale })
	if d := r.at.Sub(died); d < 3*testInterval-testInterval/2 {
		t.Errorf("stale after %v, before three intervals had passed", d)
	}
	for _, x := range h.samplesOf(tg.ID, died, died.Add(2*testInterval)) {
		if x.s.Stale {
			t.Errorf("stale %v after the last figures", x.at.Sub(died))
		}
	}
}
