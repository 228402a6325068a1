package collector

import (
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/samplepb"
	"github.com/fcmon/fcmon/internal/core/wire"
)

func u64(v uint64) *uint64 { return &v }

// vmWithAll has every part, current.
func vmWithAll() samplepb.VM {
	pct := 25.0
	return samplepb.VM{ID: "vm-1",
		HasGuest: true, Guest: samplepb.Guest{CPUUsagePercent: 40, MemoryUsagePercent: &pct, MemoryUsedKB: 256, MemoryTotalKB: 1024,
			MemoryAvailableKB: 768, UptimeSeconds: 99, AgeMs: 300, HasNetwork: true, Network: samplepb.Rates{Source: "guest", RxBytesPerSec: 7, TxBytesPerSec: 8},
			HasDisk: true, Disk: samplepb.Rates{Source: "guest", RxBytesPerSec: 9, TxBytesPerSec: 10}},
		HasVCPU: true, VCPU: samplepb.VCPU{Count: 2, UsagePercent: 38},
		HasBalloon: true, Balloon: samplepb.Balloon{TotalKB: u64(1000), AvailableKB: u64(600), FreeKB: u64(500), AgeMs: 400},
		HasProcess: true, Process: samplepb.Process{PID: 7, CPUUsagePercent: 90, MemoryRSSKB: 5000, UptimeSeconds: 100},
		HasNetwork: true, Network: samplepb.Rates{Source: "firecracker", RxBytesPerSec: 1, TxBytesPerSec: 2, AgeMs: 500},
		HasBlock: true, Block: samplepb.Rates{Source: "firecracker", RxBytesPerSec: 3, TxBytesPerSec: 4, AgeMs: 500}}
}

func TestFromHost(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	type want struct {
		src, memSrc   string
		cpu           float64
		used, total   uint64
		pct           float64
		net, disk     string
		reachable     bool
		fresh         bool
		uptimeSeconds uint64
	}
	tests := []struct {
		name string
		edit func(v *samplepb.VM)
		want want
	}{
		{"guest", func(*samplepb.VM) {}, want{"guest", "guest", 40, 256, 1024, 25, "firecracker", "firecracker", true, true, 99}},
		{"guest failing: vcpu and balloon", func(v *samplepb.VM) { v.Errors = map[string]string{"guest": "refused"} },
			want{"vcpu", "balloon", 38, 400, 1000, 40, "firecracker", "firecracker", false, true, 100}},
		{"guest document too old", func(v *samplepb.VM) { v.Guest.AgeMs = 3001 },
			want{"vcpu", "balloon", 38, 400, 1000, 40, "firecracker", "firecracker", false, true, 100}},
		{"balloon without available: free", func(v *samplepb.VM) { v.HasGuest = false; v.Balloon.AvailableKB = nil },
			want{"vcpu", "balloon", 38, 500, 1000, 50, "firecracker", "firecracker", false, true, 100}},
		{"balloon failing: process", func(v *samplepb.VM) {
			v.HasGuest = false
			v.Errors = map[string]string{"balloon": "timeout"}
		}, want{"vcpu", "host", 38, 5000, 0, 0, "firecracker", "firecracker", false, true, 100}},
		{"process only", func(v *samplepb.VM) { v.HasGuest, v.HasVCPU, v.HasBalloon = false, false, false },
			want{"host", "host", 90, 5000, 0, 0, "firecracker", "firecracker", false, true, 100}},
		{"stale Firecracker line: guest rates", func(v *samplepb.VM) { v.Network.AgeMs, v.Block.AgeMs = 70_000, 70_000 },
			want{"guest", "guest", 40, 256, 1024, 25, "guest", "guest", true, true, 99}},
		{"tap", func(v *samplepb.VM) { v.Network.Source, v.HasBlock = "tap", false },
			want{"guest", "guest", 40, 256, 1024, 25, "tap", "guest", true, true, 99}},
		{"nothing", func(v *samplepb.VM) { *v = samplepb.VM{ID: "vm-1"} },
			want{"none", "none", -1, 0, 0, 0, "", "", false, false, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := vmWithAll()
			tt.edit(&v)
			s, fresh := fromHost("id", now, 1000, &v)
			w := tt.want
			if s.Source != w.src || s.MemorySource != w.memSrc || fresh != w.fresh || s.GuestAgent.Reachable != w.reachable {
				t.Errorf("sources %s/%s fresh %v reachable %v; want %s/%s %v %v", s.Source, s.MemorySource, fresh, s.GuestAgent.Reachable, w.src, w.memSrc, w.fresh, w.reachable)
			}
			if w.cpu >= 0 && (s.CPUUsagePercent == nil || *s.CPUUsagePercent != w.cpu) {
				t.Errorf("cpu %v, want %v", s.CPUUsagePercent, w.cpu)
			}
			if w.cpu < 0 && s.CPUUsagePercent != nil {
				t.Errorf("cpu %v, want none", *s.CPUUsagePercent)
			}
			if w.used != 0 && (s.MemoryUsedKB == nil || *s.MemoryUsedKB != w.used) {
				t.Errorf("memory used %v, want %d", s.MemoryUsedKB, w.used)
			}
			if (w.total == 0) != (s.MemoryTotalKB == nil) || (w.total != 0 && *s.MemoryTotalKB != w.total) {
				t.Errorf("memory total %v, want %d", s.MemoryTotalKB, w.total)
			}
			if (w.pct == 0) != (s.MemoryUsagePercent == nil) || (w.pct != 0 && *s.MemoryUsagePercent != w.pct) {
				t.Errorf("memory %% %v, want %v", s.MemoryUsagePercent, w.pct)
			}
			if got := rateSource(s.Network); got != w.net {
				t.Errorf("network source %q, want %q", got, w.net)
			}
			if got := diskSource(s.Disk); got != w.disk {
				t.Errorf("disk source %q, want %q", got, w.disk)
			}
			if w.uptimeSeconds != 0 && (s.UptimeSeconds == nil || *s.UptimeSeconds != w.uptimeSeconds) {
				t.Errorf("uptime %v, want %d", s.UptimeSeconds, w.uptimeSeconds)
			}
		})
	}
}

func rateSource(n *wire.NetworkRates) string {
	if n == nil {
		return ""
	}
	return n.Source
}

func diskSource(d *wire.DiskRates) string {
	if d == nil {
		return ""
	}
	return d.Source
}

// TestFromHostMetricsProblem: why the host agent reads no metrics lines
// for a VM goes with its sample, and only then.
func TestFromHostMetricsProblem(t *testing.T) {
	v := vmWithAll()
	v.HasNetwork, v.HasBlock = false, false
	v.Errors = map[string]string{"metrics_fifo": "not found: it names no metrics output", "guest": "refused"}
	s, _ := fromHost("id", time.Now(), 1000, &v)
	if s.MetricsProblem != "not found: it names no metrics output" {
		t.Errorf("metrics_problem %q", s.MetricsProblem)
	}
	v = vmWithAll()
	if s, _ := fromHost("id", time.Now(), 1000, &v); s.MetricsProblem != "" {
		t.Errorf("metrics_problem %q for a VM whose lines are read", s.MetricsProblem)
	}
}
