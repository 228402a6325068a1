package collector

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

// Bounds of host figures that no real VMM reaches; beyond them a document
// is garbage. 1024 cores, 64 TiB resident, 1 TB/s.
const (
	maxProcessCPUPercent = 100 * 1024
	maxRSSKB             = 64 << 30
	maxBytesPerSec       = 1e12
)

// reattachGap returns the least time between two attach attempts for one
// VM, so a host agent that keeps refusing is not hammered every interval.
func (c *Collector) reattachGap() time.Duration {
	return max(5*c.opt.PollInterval, time.Second)
}

// fetchProcess asks the host agent about the VMM process; nil on failure.
func (w *worker) fetchProcess(ctx context.Context, t Target) *wire.ProcessStats {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, w.c.opt.Timeout)
	defer cancel()
	p, perr := w.c.hosts.ProcessStats(rctx, t.HostAgentURL, t.VMMPID)
	if perr == nil {
		if err := checkProcess(p, t.VMMPID); err != nil {
			perr = failf(agentclient.ReasonOutOfRange, "process stats: %w", err)
		}
	}
	w.report(KindProcess, start, perr)
	if perr != nil {
		return nil
	}
	return p
}

// fetchStats asks the host agent for the VM's network and disk figures;
// nil on failure. A 404 means the host agent does not know the VM (it was
// restarted, say), which re-attaching repairs for the next round.
func (w *worker) fetchStats(ctx context.Context, t Target) *wire.VMStats {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, w.c.opt.Timeout)
	defer cancel()
	st, perr := w.c.hosts.VMStats(rctx, t.HostAgentURL, t.ID)
	if perr == nil {
		if err := checkStats(st, t.ID); err != nil {
			perr = failf(agentclient.ReasonOutOfRange, "vm stats: %w", err)
		}
	}
	w.report(KindStats, start, perr)
	if perr == nil {
		return st
	}
	if perr.Reason == agentclient.ReasonHTTPStatus && perr.Status == http.StatusNotFound {
		w.reattach(ctx, t)
	}
	return nil
}

// reattach attaches the VM to its host agent again, at most once per
// reattachGap, when there is anything to attach.
func (w *worker) reattach(ctx context.Context, t Target) {
	if t.VMMPID <= 0 && t.MetricsFIFO == "" && t.APISocket == "" {
		return
	}
	if !w.lastAttach.IsZero() && time.Since(w.lastAttach) < w.c.reattachGap() {
		return
	}
	w.lastAttach = time.Now()
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, w.c.opt.Timeout)
	defer cancel()
	perr := w.c.hosts.Attach(rctx, t.HostAgentURL, wire.VMConfig{ID: t.ID, PID: t.VMMPID, MetricsFIFO: t.MetricsFIFO, APISocket: t.APISocket})
	w.report(KindAttach, start, perr)
	switch {
	case perr == nil:
		w.c.log.Info("VM attached to its host agent again", "vm_id", t.ID, "host_agent", t.HostAgentURL)
	case perr.Reason != agentclient.ReasonCanceled:
		w.c.log.Warn("attaching VM to its host agent failed", "vm_id", t.ID,
			"host_agent", t.HostAgentURL, "reason", perr.Reason, "err", perr)
	}
}

// checkProcess refuses figures that cannot describe the process asked for.
func checkProcess(p *wire.ProcessStats, pid int) error {
	switch {
	case p.PID != pid:
		return fmt.Errorf("answer is about pid %d, not %d", p.PID, pid)
	case !inRange(p.CPUUsagePercent, maxProcessCPUPercent):
		return fmt.Errorf("cpu_usage_percent %g is outside [0, %d]", p.CPUUsagePercent, maxProcessCPUPercent)
	case !inRange(p.VCPUUsagePercent, maxProcessCPUPercent):
		return fmt.Errorf("vcpu_usage_percent %g is outside [0, %d]", p.VCPUUsagePercent, maxProcessCPUPercent)
	case p.MemoryRSSKB > maxRSSKB:
		return fmt.Errorf("memory_rss_kb %d is implausibly large", p.MemoryRSSKB)
	case p.Threads < 0 || p.VCPUThreads < 0 || p.VCPUThreads > p.Threads:
		return fmt.Errorf("threads %d with %d vCPU threads is impossible", p.Threads, p.VCPUThreads)
	case p.UptimeSeconds < 0:
		return fmt.Errorf("uptime_seconds %d is negative", p.UptimeSeconds)
	}
	return nil
}

// checkStats refuses a stats document about another VM or with rates no
// VM produces.
func checkStats(st *wire.VMStats, id string) error {
	if st.ID != id {
		return fmt.Errorf("answer is about VM %q, not %q", st.ID, id)
	}
	if n := st.Network; n != nil {
		if err := checkRates("network", n.RxBytesPerSec, n.TxBytesPerSec); err != nil {
			return err
		}
	}
	if b := st.Block; b != nil {
		if err := checkRates("block", b.ReadBytesPerSec, b.WriteBytesPerSec); err != nil {
			return err
		}
	}
	return nil
}

func checkRates(what string, rates ...*float64) error {
	for _, r := range rates {
		if r != nil && !inRange(*r, maxBytesPerSec) {
			return fmt.Errorf("%s rate %g is outside [0, %g]", what, *r, maxBytesPerSec)
		}
	}
	return nil
}

// inRange reports whether v is a number in [0, hi].
func inRange(v, hi float64) bool {
	return !math.IsNaN(v) && v >= 0 && v <= hi
}
