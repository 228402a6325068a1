package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fcmon/fcmon/internal/core/samplepb"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

// HostTarget is a host agent the manager collects from: one GET
// /v1/samples per interval brings every VM on its host.
type HostTarget struct {
	ID  string
	URL string
}

// HostVM is a VM a host agent reports.
type HostVM struct {
	HostVMID   string // the host agent's id: Firecracker's --id
	Discovered bool
	// Labels are what its launcher gave it, as the host agent read them
	// (checked by the registry before they are kept).
	Labels map[string]string
}

// HostStatus is what the collector knows of a host agent.
// HostExit is how a VM a host agent reported ended: the reason, and the
// figures behind it for the vmm_exit event's detail.
type HostExit struct {
	Reason string
	Detail map[string]string
}

type HostStatus struct {
	Name          string // the host name it reports
	VMs           int    // VMs in its latest document
	Encoding      string // "protobuf" or "json", of the latest answer
	LastSuccessMs int64  // 0: never
	LastError     string // of the latest attempt, a class only ("refused", "timeout", ...)
	LastErrorMs   int64
	LatencyMs     float64 // of the latest successful request
	// SkippedVMs are the VMs of its latest answer left out for a bad id
	// (SkippedReason says the first one's fault); UnregisteredVMs those
	// the registry has not taken yet (over a limit), tried again each poll.
	SkippedVMs      int
	SkippedReason   string
	UnregisteredVMs int
}

// hostWorker collects one host agent. Its fields below mu belong to its
// goroutine.
type hostWorker struct {
	c      *Collector
	id     string
	phase  time.Duration
	cancel context.CancelFunc

	mu     sync.Mutex // guards target and status
	target HostTarget
	status HostStatus

	dec     samplepb.Decoder
	doc     samplepb.HostSamples
	wdoc    wire.HostSamples  // the JSON answer, before reduction
	ids     map[string]string // host VM id → registry id, as Register last said
	known   []string          // the host VM ids Register was last told of, sorted
	labels  uint64            // labelsDigest of what Register was last told
	retry   bool              // Register did not take them all: tell it again
	vms     map[string]*hostVM
	clashes map[wire.IDClash]bool // those of the latest answer, each made an event once
}

// hostVM is the latest sample of one VM collected through its host agent.
type hostVM struct {
	id     string
	watch  watch // the goroutine's alone
	mu     sync.Mutex
	sample wire.CombinedSample
	has    bool
	dataAt time.Time
	closed bool // no longer the host's: publish nothing more
}

func newHostWorker(c *Collector, t HostTarget, cancel context.CancelFunc) *hostWorker {
	return &hostWorker{c: c, id: t.ID, phase: Phase(t.ID, c.opt.PollInterval), cancel: cancel, target: t,
		ids: map[string]string{}, vms: map[string]*hostVM{}}
}

func (h *hostWorker) setTarget(t HostTarget) {
	h.mu.Lock()
	h.target = t
	h.mu.Unlock()
}

func (h *hostWorker) currentTarget() HostTarget {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.target
}

// Status returns what the collector knows of the host agent.
func (h *hostWorker) Status() HostStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.status
}

// run collects the host agent at its slots until ctx ends; then its VMs
// leave the collector.
func (h *hostWorker) run(ctx context.Context) {
	defer h.drop(nil)
	iv := h.c.opt.PollInterval
	for {
		slot := nextSlot(time.Now(), iv, h.phase)
		if !sleepUntil(ctx, slot) {
			return
		}
		h.poll(ctx)
	}
}

// poll asks the host agent for every VM's figures and publishes a sample
// for each. A host agent that fails leaves its VMs' figures to age: each
// gets a sample without figures, stale after three intervals, as a VM
// whose guest agent does not answer.
func (h *hostWorker) poll(ctx context.Context) {
	t := h.currentTarget()
	start := time.Now()
	buf := answers.Get().(*bytes.Buffer)
	dense, e := h.c.hosts.Samples(ctx, t.URL, buf)
	if e == nil {
		e = h.decode(buf.Bytes(), dense)
	}
	if buf.Cap() <= 1<<20 { // an odd huge answer is not kept
		answers.Put(buf)
	}
	if ctx.Err() != nil {
		return
	}
	now := h.c.opt.Now()
	res := PollResult{HostID: h.id, Kind: KindSamples, Latency: time.Since(start)}
	if e != nil {
		res.Reason, res.Err = e.Reason, e
		h.mu.Lock()
		h.status.LastError, h.status.LastErrorMs = e.Public(), now.UnixMilli()
		h.mu.Unlock()
		h.c.log.Debug("host agent failed", "host_id", h.id, "url", t.URL, "reason", e.Reason, "err", e)
		for _, v := range h.vms {
			s := wire.CombinedSample{VMID: v.id, TimestampMs: now.UnixMilli(), Source: wire.SourceNone, MemorySource: wire.SourceNone,
				GuestAgent: wire.GuestAgentStatus{LastError: "host agent: " + e.Public()}}
			h.c.publishHost(v, s, false, now)
		}
		h.report(res)
		return
	}
	reg, err := h.register(ctx, t)
	if err != nil {
		h.c.log.Warn("registering a host agent's VMs failed; trying again next interval", "host_id", h.id, "err", err)
	}
	h.mu.Lock()
	h.status = HostStatus{Name: h.doc.Host, VMs: len(h.doc.VMs), Encoding: encodingName(dense),
		LastSuccessMs: now.UnixMilli(), LatencyMs: float64(res.Latency.Microseconds()) / 1000,
		SkippedVMs: reg.skipped, SkippedReason: reg.reason, UnregisteredVMs: reg.unregistered}
	h.mu.Unlock()
	h.clashEvents()
	for i := range h.doc.VMs {
		v := &h.doc.VMs[i]
		id, ok := h.ids[v.ID]
		if !ok {
			continue
		}
		hv := h.vms[id]
		if hv == nil {
			hv = &hostVM{id: id, watch: newWatch(&h.c.opt)}
			h.vms[id] = hv
			h.c.addHostVM(hv)
		}
		s, fresh := fromHost(id, now, h.doc.IntervalMs, v)
		f := hostFacts(now, &s, v)
		s.Checks = f.checks()
		h.c.publishHost(hv, s, fresh, now)
		h.c.emit(hv.watch.observe(id, f))
	}
	h.report(res)
}

// clashEvents makes an id_clash event, once, of each clash the host agent
// reports, on the VM that holds the id.
func (h *hostWorker) clashEvents() {
	seen := make(map[wire.IDClash]bool, len(h.doc.Clashes))
	for _, c := range h.doc.Clashes {
		k := wire.IDClash{ID: c.ID, PID: int(c.PID), HolderPID: int(c.HolderPID), RenamedTo: c.RenamedTo, AtMs: c.AtMs}
		seen[k] = true
		id, ok := h.ids[c.ID]
		if h.clashes[k] || !ok {
			continue
		}
		h.c.emit([]wire.Event{{VMID: id, Type: wire.EventIDClash, TimestampMs: c.AtMs,
			Message: fmt.Sprintf("Firecracker process %d on host agent %s reported this VM's id; it is listed as %s", c.PID, h.currentTarget().URL, c.RenamedTo),
			Detail: map[string]string{"pid": strconv.FormatInt(c.PID, 10), "holder_pid": strconv.FormatInt(c.HolderPID, 10),
				"renamed_to": c.RenamedTo, "host_id": h.id}}})
	}
	h.clashes = seen
}

// hostFacts are what a host agent's document tells of a VM for its events.
func hostFacts(now time.Time, s *wire.CombinedSample, v *samplepb.VM) facts {
	f := facts{at: now, source: s.Source, memSource: s.MemorySource, guest: s.GuestAgent.Reachable}
	if f.guest {
		g := &v.Guest
		f.bootID, f.uptime, f.oomKills, f.started, f.guestCPU = g.BootID, g.UptimeSeconds, g.OOMKills, g.AgentStartedMs, g.CPUUsagePercent
		if g.ClockSkewMs != nil {
			f.skewMs, f.hasSkew = *g.ClockSkewMs, true
		}
		f.guestMs, f.restores, f.vmGeneration, f.clockStepMs = g.TimestampMs, g.RestoresDetected, g.VMGeneration, g.ClockStepMs
		if g.MemoryTotalKB > 0 {
			f.guestUsed = float64(g.MemoryUsedKB) / float64(g.MemoryTotalKB)
		}
	}
	if v.HasVCPU {
		f.hasVCPU, f.vcpuCPU = true, v.VCPU.UsagePercent
	}
	f.cgroup = s.Cgroup
	if b := &v.Balloon; v.HasBalloon {
		f.balloonOOM = b.OOMKills
		if b.TotalKB != nil && *b.TotalKB > 0 && b.AvailableKB != nil && v.Errors["balloon"] == "" {
			f.hasBalloon = true
			f.balloonUsed = float64(*b.TotalKB-min(*b.AvailableKB, *b.TotalKB)) / float64(*b.TotalKB)
		}
	}
	return f
}

func encodingName(dense bool) string {
	if dense {
		return "protobuf"
	}
	return "json"
}

func (h *hostWorker) report(r PollResult) {
	if h.c.opt.OnPoll != nil {
		h.c.opt.OnPoll(r)
	}
}

// answers are the buffers host agents' answers are read into: only the
// polls in flight hold one.
var answers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// decode turns the answer into h.doc, whichever encoding it came in. Both
// decoders copy what they keep, so the answer's buffer can go.
func (h *hostWorker) decode(data []byte, dense bool) *agentclient.Error {
	if dense {
		if err := h.dec.Decode(data, &h.doc); err != nil {
			return agentclient.Failf(agentclient.ReasonBadJSON, "GET /v1/samples: %v", err)
		}
		return nil
	}
	h.wdoc = wire.HostSamples{}
	if err := json.Unmarshal(data, &h.wdoc); err != nil {
		return agentclient.Failf(agentclient.ReasonBadJSON, "GET /v1/samples: %v", err)
	}
	samplepb.FromWire(&h.wdoc, &h.doc)
	return nil
}

// registered is how registering a host's answer went.
type registered struct {
	skipped      int    // VMs with a bad id, left out
	reason       string // why the first was
	unregistered int    // VMs with a good id the registry has not taken yet
}

// register tells the registry which VMs the host agent reports, when that
// set changed since it last did: new ones get a registry id, those no
// longer reported are marked gone there and leave the collector. A VM with
// a bad id is left out, and the rest register; when the registry did not
// take every VM (an error, a limit), the set is offered again next poll.
func (h *hostWorker) register(ctx context.Context, t HostTarget) (registered, error) {
	var out registered
	present := make([]string, 0, len(h.doc.VMs))
	vms := make([]HostVM, 0, len(h.doc.VMs))
	for i := range h.doc.VMs {
		v := &h.doc.VMs[i]
		if why := BadHostVMID(v.ID); why != "" {
			if out.skipped == 0 {
				out.reason = why
			}
			out.skipped++
			continue
		}
		present = append(present, v.ID)
		vms = append(vms, HostVM{HostVMID: v.ID, Discovered: v.Discovered, Labels: v.Labels})
	}
	slices.Sort(present)
	present = slices.Compact(present)
	count := func() {
		for _, id := range present {
			if _, ok := h.ids[id]; !ok {
				out.unregistered++
			}
		}
	}
	digest := labelsDigest(vms)
	if (slices.Equal(present, h.known) && digest == h.labels && !h.retry) || h.c.opt.Register == nil {
		count()
		return out, nil
	}
	if out.skipped > 0 {
		h.c.log.Warn("a host agent reports VMs with bad ids; they are left out", "host_id", h.id, "skipped", out.skipped, "first", out.reason)
	}
	// How the VMs that left ended, when the host agent could tell.
	var exits map[string]HostExit
	for _, e := range h.doc.Exits {
		x := HostExit{Reason: e.Reason}
		if e.CgroupOOMKills != nil {
			x.Detail = map[string]string{"cgroup_oom_kills": strconv.FormatUint(*e.CgroupOOMKills, 10)}
			if e.CgroupLimitBytes != nil {
				x.Detail["cgroup_memory_limit_bytes"] = strconv.FormatUint(*e.CgroupLimitBytes, 10)
			}
		}
		if x.Reason != "" || x.Detail != nil {
			if exits == nil {
				exits = map[string]HostExit{}
			}
			exits[e.ID] = x
		}
	}
	ids, err := h.c.opt.Register(ctx, t, h.doc.Host, vms, exits)
	if ids == nil && err != nil {
		return out, err
	}
	h.ids = ids
	count()
	h.known, h.labels, h.retry = present, digest, err != nil || out.unregistered > 0
	keep := make(map[string]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
	}
	h.drop(keep)
	return out, err
}

// labelsDigest sums a hash of every VM's id and label pairs: a launcher
// relabelling a VM changes it, and Register is told again. A sum, so the
// maps' order does not matter and nothing is sorted per poll.
func labelsDigest(vms []HostVM) uint64 {
	var sum uint64
	for i := range vms {
		for k, v := range vms[i].Labels {
			h := fnv.New64a()
			h.Write([]byte(vms[i].HostVMID))
			h.Write([]byte{0})
			h.Write([]byte(k))
			h.Write([]byte{0})
			h.Write([]byte(v))
			sum += h.Sum64()
		}
	}
	return sum
}

// BadHostVMID says what is wrong with a VM id a host agent reports, ""
// when nothing: it must be 1 to 256 bytes of UTF-8 without control
// characters (a NUL, which PostgreSQL cannot store, among them).
func BadHostVMID(id string) string {
	switch {
	case id == "":
		return "an empty VM id"
	case len(id) > 256:
		return "a VM id longer than 256 bytes"
	case !utf8.ValidString(id):
		return "a VM id that is not UTF-8"
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Sprintf("a VM id holding the control character %U", r)
		}
	}
	return ""
}

// drop takes the VMs not in keep (nil: all) out of the collector.
func (h *hostWorker) drop(keep map[string]bool) {
	for id, v := range h.vms {
		if !keep[id] {
			delete(h.vms, id)
			h.c.removeHostVM(v)
		}
	}
}

func (h *hostWorker) stop() { h.cancel() }

// addHostVM makes a VM's samples visible to Latest.
func (c *Collector) addHostVM(v *hostVM) {
	c.mu.Lock()
	c.hostVMs[v.id] = v
	c.mu.Unlock()
}

// removeHostVM ends delivery of a VM's samples.
func (c *Collector) removeHostVM(v *hostVM) {
	c.mu.Lock()
	if c.hostVMs[v.id] == v {
		delete(c.hostVMs, v.id)
	}
	c.mu.Unlock()
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
}

// publishHost stores s as the VM's latest sample and hands it to OnSample.
func (c *Collector) publishHost(v *hostVM, s wire.CombinedSample, fresh bool, now time.Time) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	if fresh {
		v.dataAt = now
	}
	s.Stale = c.stale(v.dataAt, now)
	v.sample, v.has = s, true
	v.mu.Unlock()
	if c.opt.OnSample != nil {
		c.opt.OnSample(s)
	}
}

// HostStatus returns what the collector knows of a host agent; false when
// it does not collect it.
func (c *Collector) HostStatus(hostID string) (HostStatus, bool) {
	c.mu.Lock()
	h, ok := c.hostWorkers[hostID]
	c.mu.Unlock()
	if !ok {
		return HostStatus{}, false
	}
	return h.Status(), true
}

// syncHosts brings the host workers in line with the host agents listed.
func (c *Collector) syncHosts(ctx context.Context, wg *sync.WaitGroup) {
	if c.opt.Hosts == nil {
		return
	}
	qctx, cancel := context.WithTimeout(ctx, c.opt.PollInterval)
	hosts, err := c.opt.Hosts(qctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("reading the host agents failed; collecting those known before", "err", err)
		}
		return
	}
	seen := make(map[string]bool, len(hosts))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range hosts {
		seen[t.ID] = true
		if h, ok := c.hostWorkers[t.ID]; ok {
			h.setTarget(t)
			continue
		}
		hctx, stop := context.WithCancel(ctx)
		h := newHostWorker(c, t, stop)
		c.hostWorkers[t.ID] = h
		wg.Go(func() { h.run(hctx) })
	}
	for id, h := range c.hostWorkers {
		if !seen[id] {
			delete(c.hostWorkers, id)
			h.stop()
		}
	}
}
