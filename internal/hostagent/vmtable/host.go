package vmtable

import (
	"context"
	"errors"
	"math"
	"os"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/procstat"
	"github.com/fcmon/fcmon/internal/hostagent/serve"
)

// host is the table as serve.Host.
type host struct{ a *Table }

func (h host) VMs() []serve.VM {
	vms := h.a.snapshot()
	out := make([]serve.VM, len(vms))
	for i, v := range vms {
		out[i] = view{h.a, v}
	}
	return out
}

func (h host) VM(id string) (serve.VM, bool) {
	v, ok := h.a.lookup(id)
	if !ok {
		return nil, false
	}
	return view{h.a, v}, true
}

func (h host) Attach(cfg wire.VMConfig) (wire.VMInfo, bool, error) { return h.a.Attach(cfg) }
func (h host) Detach(id string) (bool, error)                      { return h.a.Detach(id) }
func (h host) Samples(now time.Time) wire.HostSamples              { return h.a.hostSamples(now) }
func (h host) Clashes() uint64                                     { return h.a.clashes.count() }

func (h host) ProcessStats(pid int) (wire.ProcessStats, error) {
	st, err := h.a.procs.Stats(pid)
	if errors.Is(err, procstat.ErrNotFound) {
		return st, errors.Join(serve.ErrNoProcess, err)
	}
	return st, err
}

// view is one VM as serve.VM.
type view struct {
	a *Table
	v *vm
}

func (w view) ID() string                     { return w.v.cfg.ID }
func (w view) PID() int                       { return w.v.cfg.PID }
func (w view) Info() wire.VMInfo              { return w.v.info() }
func (w view) Stats() wire.VMStats            { return w.a.stats(w.v) }
func (w view) VCPUs(p *wire.ProcessStats) int { return w.a.vcpuCount(w.v, p) }

func (w view) GuestProm(ctx context.Context) ([]byte, error) {
	if w.v.poll == nil {
		return nil, errNoGuest
	}
	return w.v.poll.GuestProm(ctx)
}

var errNoGuest = errors.New("no guest agent to ask")

func (a *Table) hostSamples(now time.Time) wire.HostSamples {
	host, _ := os.Hostname()
	vms := a.snapshot()
	out := wire.HostSamples{Host: host, TimestampMs: now.UnixMilli(), IntervalMs: a.opt.Interval.Milliseconds(),
		VMs: make([]wire.VMSample, 0, len(vms))}
	for _, v := range vms {
		out.VMs = append(out.VMs, a.vmSample(v, now))
	}
	out.Exits = a.exits.list(now)
	out.Clashes = a.clashes.recent(now)
	return out
}

// vcpuCount is the VM's vCPUs: Firecracker's vcpu_count when its API told
// it, else the live fc_vcpu threads of p (nil: none known, 0).
func (a *Table) vcpuCount(v *vm, p *wire.ProcessStats) int {
	if v.poll != nil {
		if info := v.poll.FirecrackerInfo(); info != nil && info.VCPUs > 0 {
			return info.VCPUs
		}
	}
	if p != nil {
		return p.VCPUThreads
	}
	return 0
}

// vmSample is one VM's part of GET /v1/samples.
func (a *Table) vmSample(v *vm, now time.Time) wire.VMSample {
	st := a.stats(v)
	s := wire.VMSample{ID: v.cfg.ID, Discovered: v.found != nil, Process: st.Process, Network: st.Network,
		Block: st.Block, Firecracker: st.Firecracker, Errors: st.Errors, Labels: st.Labels, Cgroup: st.Cgroup}
	if v.poll != nil {
		g, b, errs, _ := v.poll.Snapshot(now)
		s.Guest, s.Balloon = g, b
		for k, e := range errs {
			if s.Errors == nil {
				s.Errors = map[string]string{}
			}
			s.Errors[k] = e
		}
	}
	if p := st.Process; p != nil && p.VCPUThreads > 0 {
		vcpus := a.vcpuCount(v, p)
		s.VCPU = &wire.VCPUStats{Count: vcpus, WindowMs: p.WindowMs,
			UsagePercent: math.Round(math.Min(p.VCPUUsagePercent/float64(vcpus), 100)*100) / 100}
	}
	return s
}

var badRequest = httpapi.BadRequest
