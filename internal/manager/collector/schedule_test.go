package collector

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

func TestPhaseSpreadsTargets(t *testing.T) {
	const n, buckets = 200, 10
	iv := time.Second
	var count [buckets]int
	for i := range n {
		p := Phase(fmt.Sprintf("vm-%d", i), iv)
		if p < 0 || p >= iv {
			t.Fatalf("phase %v outside [0, %v)", p, iv)
		}
		count[p*buckets/iv]++
	}
	for b, c := range count {
		if c < n/buckets/2 || c > n/buckets*2 {
			t.Errorf("bucket %d of %d holds %d of %d phases: %v", b, buckets, c, n, count)
		}
	}
	if a, b := Phase("vm-1", iv), Phase("vm-1", iv); a != b || a == Phase("vm-2", iv) {
		t.Error("phase not a stable function of the id")
	}
}

func TestNextSlot(t *testing.T) {
	iv, phase := time.Second, 300*time.Millisecond
	base := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct{ now, want time.Duration }{
		{0, 300 * time.Millisecond},
		{299 * time.Millisecond, 300 * time.Millisecond},
		{300 * time.Millisecond, 1300 * time.Millisecond},
		{2500 * time.Millisecond, 3300 * time.Millisecond},
	} {
		if got := nextSlot(base.Add(tt.now), iv, phase); !got.Equal(base.Add(tt.want)) {
			t.Errorf("nextSlot(+%v) = +%v, want +%v", tt.now, got.Sub(base), tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	iv := time.Second
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, w := range want {
		if got := backoff(i+1, iv, 30*iv); got != w*iv {
			t.Errorf("backoff after %d failures = %v, want %v", i+1, got, w*iv)
		}
	}
	if got := backoff(1000, iv, 30*iv); got != 30*iv {
		t.Errorf("backoff after 1000 failures = %v", got)
	}
}

// TestJitterLive polls 200 VMs and checks that each poll starts near its
// VM's phase, so the fleet's requests spread over the interval.
func TestJitterLive(t *testing.T) {
	const n = 200
	iv := 500 * time.Millisecond
	var mu sync.Mutex
	var offsets []time.Duration
	h := newHarness(t, iv, func(o *Options) {
		o.OnPoll = func(p PollResult) {
			start := time.Now().Add(-p.Latency)
			off := time.Duration(start.UnixNano()%int64(iv)) - Phase(p.VMID, iv)
			if off < 0 {
				off += iv
			}
			mu.Lock()
			offsets = append(offsets, off)
			mu.Unlock()
		}
	})
	srv := standIn(t, serveBody(goodGuestJSON))
	for i := range n {
		tg := srv
		tg.ID = fmt.Sprintf("vm-%d", i)
		h.set(tg)
	}
	time.Sleep(4 * iv)
	mu.Lock()
	defer mu.Unlock()
	if len(offsets) < 2*n {
		t.Fatalf("%d polls of %d VMs in four intervals", len(offsets), n)
	}
	late := 0
	for _, off := range offsets {
		if off > 100*time.Millisecond {
			late++
		}
	}
	if late > len(offsets)/10 {
		t.Errorf("%d of %d polls started more than 100ms after their phase", late, len(offsets))
	}
}

// TestForgetAndStaleLatest: Forget ends delivery at once, and Latest turns
// stale once nothing new came for three intervals.
func TestForgetAndStaleLatest(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarness(t, testInterval, func(o *Options) { o.Now = clock })
	a := standIn(t, serveBody(goodGuestJSON))
	a.ID = "vm-a"
	h.set(a)
	h.waitSample(t, "vm-a", time.Time{}, 3*time.Second, "first sample", isSource(wire.SourceGuest))
	if s, ok := h.c.Latest("vm-a"); !ok || s.Stale {
		t.Fatalf("fresh sample stale: %s", show(s))
	}
	h.mu.Lock()
	delete(h.targets, "vm-a")
	h.mu.Unlock()
	h.c.Forget("vm-a")
	forgot := time.Now()
	if _, ok := h.c.Latest("vm-a"); ok {
		t.Error("Latest still answers for a forgotten VM")
	}
	time.Sleep(3 * testInterval)
	if got := h.samplesOf("vm-a", forgot, time.Now()); len(got) > 0 {
		t.Errorf("%d samples delivered after Forget", len(got))
	}

	b := standIn(t, func(w http.ResponseWriter, r *http.Request) {})
	b.ID = "vm-b"
	h.set(b)
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	r := h.waitSample(t, "vm-b", time.Time{}, 3*time.Second, "sample", func(wire.CombinedSample) bool { return true })
	if !r.s.Stale || r.s.Source != wire.SourceNone {
		t.Errorf("a VM that never gave figures: %s", show(r.s))
	}
}

func TestCombineHost(t *testing.T) {
	withVCPU := &wire.ProcessStats{PID: 7, CPUUsagePercent: 230, VCPUUsagePercent: 180, VCPUThreads: 2, Threads: 5, MemoryRSSKB: 4096, UptimeSeconds: 9}
	s := combine("x", time.UnixMilli(5), nil, withVCPU, nil, 0)
	if s.Source != wire.SourceHost || *s.CPUUsagePercent != 90 || *s.MemoryUsedKB != 4096 || *s.UptimeSeconds != 9 || s.TimestampMs != 5 {
		t.Errorf("host sample with vCPU threads: %s", show(s))
	}
	noVCPU := &wire.ProcessStats{PID: 7, CPUUsagePercent: 130, Threads: 3}
	if s := combine("x", time.Now(), nil, noVCPU, nil, 2); *s.CPUUsagePercent != 65 {
		t.Errorf("without vCPU threads, the process's time over the guest's 2 vCPUs: %s", show(s))
	}
	if s := combine("x", time.Now(), nil, noVCPU, nil, 0); *s.CPUUsagePercent != 100 {
		t.Errorf("without vCPU threads or a vCPU count, capped at 100: %s", show(s))
	}
	rate := func(v float64) *float64 { return &v }
	st := &wire.VMStats{ID: "x", TimestampMs: 100_000,
		Network:     &wire.VMNetwork{Source: "firecracker", RxBytesPerSec: rate(1), TxBytesPerSec: rate(2)},
		Block:       &wire.VMBlock{ReadBytesPerSec: rate(3), WriteBytesPerSec: rate(4)},
		Firecracker: &wire.FirecrackerStatus{LastLineMs: 100_000 - 70_000}}
	if s := combine("x", time.Now(), nil, nil, st, 0); s.Network != nil || s.Disk != nil || s.Source != wire.SourceNone {
		t.Errorf("rates of a Firecracker silent for 70s used: %s", show(s))
	}
	st.Firecracker.LastLineMs = 99_000
	if s := combine("x", time.Now(), nil, nil, st, 0); s.Network == nil || s.Network.RxBytesPerSec != 1 || s.Disk == nil || s.Disk.WriteBytesPerSec != 4 {
		t.Errorf("fresh Firecracker rates: %s", show(s))
	}
	// A registered VM's cgroup, as its host agent's VM stats carry it.
	quota, limit := 0.5, uint64(256<<20)
	st.Cgroup = &wire.CgroupStats{ThrottledPercent: 80, CPUQuotaCores: &quota, MemoryCurrentBytes: 1 << 20, MemoryLimitBytes: &limit,
		MemoryEvents: wire.CgroupMemoryEvents{Max: 3, OOMKill: 1}, Epoch: 2}
	c := combine("x", time.Now(), nil, nil, st, 0).Cgroup
	if c == nil || c.ThrottledPercent != 80 || *c.CPUQuotaCores != 0.5 || *c.MemoryLimitBytes != limit || c.MemoryLimitHits != 3 || c.OOMKills != 1 || c.Epoch != 2 {
		t.Errorf("the cgroup of the VM stats: %+v", c)
	}
}

func TestHostSanityChecks(t *testing.T) {
	ok := wire.ProcessStats{PID: 7, CPUUsagePercent: 230, Threads: 5, VCPUThreads: 2}
	if err := checkProcess(&ok, 7); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]wire.ProcessStats{
		"other pid":     {PID: 8},
		"negative cpu":  {PID: 7, CPUUsagePercent: -1},
		"absurd cpu":    {PID: 7, CPUUsagePercent: 1e9},
		"absurd rss":    {PID: 7, MemoryRSSKB: 1 << 50},
		"vcpu > thread": {PID: 7, Threads: 1, VCPUThreads: 2},
	} {
		if err := checkProcess(&p, 7); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	bad := -5.0
	if err := checkStats(&wire.VMStats{ID: "x", Network: &wire.VMNetwork{RxBytesPerSec: &bad}}, "x"); err == nil {
		t.Error("negative rate accepted")
	}
	if err := checkStats(&wire.VMStats{ID: "y"}, "x"); err == nil {
		t.Error("stats of another VM accepted")
	}
}
