package main

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/internal/core/samplepb"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// simHost is one simulated host agent: GET /v1/samples for perHost VMs,
// in the dense encoding (what the manager asks for first), their figures
// changing every second. It is the reduction of what a host agent would
// send, built directly, so a thousand of them fit beside the manager.
type simHost struct {
	index, perHost int
	start          time.Time
}

func (h simHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/samples" {
		http.NotFound(w, r)
		return
	}
	now := time.Now()
	doc := samplepb.HostSamples{Host: "sim-" + strconv.Itoa(h.index), TimestampMs: now.UnixMilli(), IntervalMs: 1000,
		VMs: make([]samplepb.VM, h.perHost)}
	for i := range doc.VMs {
		h.fill(&doc.VMs[i], h.index*h.perHost+i, now)
	}
	w.Header().Set("Content-Type", samplepb.MediaType)
	w.Write(samplepb.Append(make([]byte, 0, 256*h.perHost), &doc))
}

// fill sets VM n's figures for the second of now, as the guest-agent
// simulation does: each VM follows its own curve.
func (h simHost) fill(v *samplepb.VM, n int, now time.Time) {
	sec := now.Unix()
	x := mix(uint64(n)<<32 ^ uint64(sec))
	cpu := float64(x%10000) / 100
	total := uint64(512+256*(n%8)) * 1024
	avail := total / 4 * (1 + (x>>16)%3)
	pct := float64(total-avail) / float64(total) * 100
	up := uint64(now.Sub(h.start).Seconds()) + uint64(n)
	rx := float64((x >> 8) % 100000)
	*v = samplepb.VM{ID: "vm-" + strconv.Itoa(n), Discovered: true,
		HasGuest: true, Guest: samplepb.Guest{CPUUsagePercent: cpu, MemoryUsagePercent: &pct, MemoryUsedKB: total - avail,
			MemoryTotalKB: total, MemoryAvailableKB: avail, UptimeSeconds: up, TimestampMs: now.UnixMilli(), AgeMs: int64(x % 1000),
			Transport: wire.TransportVsock, BootID: "00000000-0000-4000-8000-" + strconv.FormatInt(1e11+int64(n), 10), AgentVersion: "fleet",
			HasNetwork: true, Network: samplepb.Rates{Source: wire.RatesGuest, RxBytesPerSec: rx, TxBytesPerSec: rx / 3},
			HasDisk: true, Disk: samplepb.Rates{Source: wire.RatesGuest, RxBytesPerSec: 4096, TxBytesPerSec: 8192}},
		HasVCPU: true, VCPU: samplepb.VCPU{Count: uint32(1 + n%4), UsagePercent: cpu * 0.98},
		HasProcess: true, Process: samplepb.Process{PID: int32(1000 + n), CPUUsagePercent: cpu * 1.05, VCPUUsagePercent: cpu,
			VCPUThreads: uint32(1 + n%4), MemoryRSSKB: total + 20_000, UptimeSeconds: up},
		HasNetwork: true, Network: samplepb.Rates{Source: wire.RatesFirecracker, RxBytesPerSec: rx, TxBytesPerSec: rx / 3, AgeMs: int64(x % 1000)},
		HasBlock: true, Block: samplepb.Rates{Source: wire.RatesFirecracker, RxBytesPerSec: 4096, TxBytesPerSec: 8192, AgeMs: int64(x % 1000)}}
	if !mixSources {
		return
	}
	switch {
	case n%50 == 7: // neither the guest agent nor vCPU figures: the VMM's
		v.HasGuest, v.HasVCPU = false, false
	case n%10 == 3: // no guest agent: vCPU threads and the balloon
		v.HasGuest = false
		free := avail / 2
		v.HasBalloon, v.Balloon = true, samplepb.Balloon{TotalKB: &total, AvailableKB: &avail, FreeKB: &free}
	}
}

// mixSources (-mix) gives some VMs fallback sources, for the UI's tests.
var mixSources bool

// serveHosts binds n consecutive loopback addresses from first on port,
// one simulated host agent each.
func serveHosts(first netip.Addr, n, perHost, port int, start time.Time) ([]net.Listener, error) {
	var lns []net.Listener
	addr := first
	for i := range n {
		ln, err := net.Listen("tcp4", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
		if err != nil {
			return lns, err
		}
		lns = append(lns, ln)
		srv := &http.Server{Handler: simHost{index: i, perHost: perHost, start: start}, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		addr = addr.Next()
	}
	return lns, nil
}
