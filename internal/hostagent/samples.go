package hostagent

import (
	"math"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/samplepb"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// samples answers GET /v1/samples: every VM's latest figures in one
// document, JSON unless the request accepts the dense encoding. It reads
// nothing: every source keeps its latest reading.
func (a *Agent) samples(w http.ResponseWriter, r *http.Request) error {
	doc := a.hostSamples(time.Now())
	if !acceptsDense(r.Header.Values("Accept")) {
		return writeJSON(w, http.StatusOK, doc)
	}
	var dense samplepb.HostSamples
	samplepb.FromWire(&doc, &dense)
	w.Header().Set("Content-Type", samplepb.MediaType)
	w.Header().Set("Vary", "Accept")
	_, err := w.Write(samplepb.Append(nil, &dense))
	return err
}

// acceptsDense reports whether an Accept header names samplepb's media
// type (with its proto parameter) at a quality above zero.
func acceptsDense(accept []string) bool {
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != "application/x-protobuf" || params["proto"] != "fcmon.v1.HostSamples" {
				continue
			}
			if q, ok := params["q"]; ok {
				if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

func (a *Agent) hostSamples(now time.Time) wire.HostSamples {
	host, _ := os.Hostname()
	vms := a.snapshot()
	out := wire.HostSamples{Host: host, TimestampMs: now.UnixMilli(), IntervalMs: a.cfg.Interval.Milliseconds(),
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
func (a *Agent) vcpuCount(v *vm, p *wire.ProcessStats) int {
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
func (a *Agent) vmSample(v *vm, now time.Time) wire.VMSample {
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
