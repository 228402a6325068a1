package firecracker

import "strings"

// The groups of a metrics line about the VMM itself rather than the
// guest's traffic: vCPU exits, the vsock device, vhost-user devices, and
// what Firecracker records as it dies (a fatal signal, a seccomp fault, a
// panic — each written on a last line before it exits). Counters are
// deltas since the previous line; the fields Firecracker keeps as a
// StoreMetric (signals but SIGPIPE, num_faults, panic_count, init_time_us)
// are values, the latest of which counts.

// VCPUCounters are the fields of the vcpu group fcmon uses: the exits to
// the VMM by kind, with the time spent handling them (the sum_us of each
// _agg), and vCPU failures.
type VCPUCounters struct {
	ExitIOIn         uint64     `json:"exit_io_in"`
	ExitIOOut        uint64     `json:"exit_io_out"`
	ExitMMIORead     uint64     `json:"exit_mmio_read"`
	ExitMMIOWrite    uint64     `json:"exit_mmio_write"`
	Failures         uint64     `json:"failures"`
	ExitIOInAgg      LatencyAgg `json:"exit_io_in_agg"`
	ExitIOOutAgg     LatencyAgg `json:"exit_io_out_agg"`
	ExitMMIOReadAgg  LatencyAgg `json:"exit_mmio_read_agg"`
	ExitMMIOWriteAgg LatencyAgg `json:"exit_mmio_write_agg"`
}

// LatencyAgg is the part of a LatencyAggregateMetrics fcmon uses: the
// microseconds spent, a counter (min_us and max_us are per line).
type LatencyAgg struct {
	SumUs uint64 `json:"sum_us"`
}

// VsockCounters are the fields of the vsock group fcmon uses.
type VsockCounters struct {
	ConnsAdded      uint64 `json:"conns_added"`
	ConnsKilled     uint64 `json:"conns_killed"`
	ConnsRemoved    uint64 `json:"conns_removed"`
	RxBytes         uint64 `json:"rx_bytes_count"`
	TxBytes         uint64 `json:"tx_bytes_count"`
	MuxerEventFails uint64 `json:"muxer_event_fails"`
	ConnEventFails  uint64 `json:"conn_event_fails"`
	TxFlushFails    uint64 `json:"tx_flush_fails"`
	TxWriteFails    uint64 `json:"tx_write_fails"`
	RxReadFails     uint64 `json:"rx_read_fails"`
}

// Fails is the sum of the device's failure counters.
func (c VsockCounters) Fails() uint64 {
	return c.MuxerEventFails + c.ConnEventFails + c.TxFlushFails + c.TxWriteFails + c.RxReadFails
}

// SignalCounters is the signals group: 1 for a fatal signal Firecracker
// caught (it then writes a line and exits), SIGPIPE a counter (it lives on).
type SignalCounters struct {
	SIGBUS  uint64 `json:"sigbus"`
	SIGSEGV uint64 `json:"sigsegv"`
	SIGXFSZ uint64 `json:"sigxfsz"`
	SIGXCPU uint64 `json:"sigxcpu"`
	SIGPIPE uint64 `json:"sigpipe"`
	SIGHUP  uint64 `json:"sighup"`
	SIGILL  uint64 `json:"sigill"`
}

// SeccompCounters is the seccomp group: 1 once a system call outside
// Firecracker's filter was made (SIGSYS; it then exits with code 148).
type SeccompCounters struct {
	NumFaults uint64 `json:"num_faults"`
}

// VMMCounters is the vmm group: 1 once Firecracker panicked.
type VMMCounters struct {
	PanicCount uint64 `json:"panic_count"`
}

// VhostUserCounters are the fields of a vhost_user_<name> group (a
// vhost-user drive is vhost_user_block_<drive_id>): its I/O is the
// backend's, not Firecracker's, so only its setup is reported.
type VhostUserCounters struct {
	ActivateFails uint64 `json:"activate_fails"`
	CfgFails      uint64 `json:"cfg_fails"`
	InitTimeUs    uint64 `json:"init_time_us"`
}

// VMMTotals are the VMM groups' sums since the reader started (stores:
// their latest values). A pointer is nil until a line carried its group.
type VMMTotals struct {
	VCPU      *VCPUCounters
	Vsock     *VsockCounters
	Signals   *SignalCounters
	Seccomp   *SeccompCounters
	VMM       *VMMCounters
	VhostUser map[string]VhostUserCounters // by name: "block_rootfs"
}

func (a *Accumulator) addVMM(l Line) {
	t := &a.t.VMMTotals
	if l.VCPU != nil {
		t.VCPU = sum(t.VCPU, l.VCPU, func(c, d *VCPUCounters) {
			c.ExitIOIn += d.ExitIOIn
			c.ExitIOOut += d.ExitIOOut
			c.ExitMMIORead += d.ExitMMIORead
			c.ExitMMIOWrite += d.ExitMMIOWrite
			c.Failures += d.Failures
			c.ExitIOInAgg.SumUs += d.ExitIOInAgg.SumUs
			c.ExitIOOutAgg.SumUs += d.ExitIOOutAgg.SumUs
			c.ExitMMIOReadAgg.SumUs += d.ExitMMIOReadAgg.SumUs
			c.ExitMMIOWriteAgg.SumUs += d.ExitMMIOWriteAgg.SumUs
		})
	}
	if l.Vsock != nil {
		t.Vsock = sum(t.Vsock, l.Vsock, func(c, d *VsockCounters) {
			c.ConnsAdded += d.ConnsAdded
			c.ConnsKilled += d.ConnsKilled
			c.ConnsRemoved += d.ConnsRemoved
			c.RxBytes += d.RxBytes
			c.TxBytes += d.TxBytes
			c.MuxerEventFails += d.MuxerEventFails
			c.ConnEventFails += d.ConnEventFails
			c.TxFlushFails += d.TxFlushFails
			c.TxWriteFails += d.TxWriteFails
			c.RxReadFails += d.RxReadFails
		})
	}
	if l.Signals != nil {
		t.Signals = sum(t.Signals, l.Signals, func(c, d *SignalCounters) {
			pipe := c.SIGPIPE + d.SIGPIPE
			*c = *d
			c.SIGPIPE = pipe
		})
	}
	if l.Seccomp != nil {
		v := *l.Seccomp
		t.Seccomp = &v
	}
	if l.VMM != nil {
		v := *l.VMM
		t.VMM = &v
	}
	for name, d := range l.VhostUser {
		if t.VhostUser == nil {
			t.VhostUser = map[string]VhostUserCounters{}
		}
		c := t.VhostUser[name]
		c.ActivateFails += d.ActivateFails
		c.CfgFails += d.CfgFails
		c.InitTimeUs = d.InitTimeUs
		t.VhostUser[name] = c
	}
}

// sum adds d into the totals c (a fresh zero when nil) and returns them.
func sum[T any](c, d *T, add func(c, d *T)) *T {
	if c == nil {
		c = new(T)
	}
	add(c, d)
	return c
}

// copy returns a deep copy.
func (t VMMTotals) copy() VMMTotals {
	out := VMMTotals{}
	if t.VCPU != nil {
		v := *t.VCPU
		out.VCPU = &v
	}
	if t.Vsock != nil {
		v := *t.Vsock
		out.Vsock = &v
	}
	if t.Signals != nil {
		v := *t.Signals
		out.Signals = &v
	}
	if t.Seccomp != nil {
		v := *t.Seccomp
		out.Seccomp = &v
	}
	if t.VMM != nil {
		v := *t.VMM
		out.VMM = &v
	}
	if t.VhostUser != nil {
		out.VhostUser = make(map[string]VhostUserCounters, len(t.VhostUser))
		for k, v := range t.VhostUser {
			out.VhostUser[k] = v
		}
	}
	return out
}

// DeathNote is what the VMM's last lines say of why it died, and the
// field that says it ("vmm.panic_count"); both "" when they say nothing.
// Firecracker records a fatal signal, a seccomp fault or a panic and
// writes one more line before it exits.
func (t VMMTotals) DeathNote() (note, field string) {
	switch {
	case t.VMM != nil && t.VMM.PanicCount > 0:
		return "Firecracker panicked", "vmm.panic_count"
	case t.Seccomp != nil && t.Seccomp.NumFaults > 0:
		return "Firecracker made a system call its seccomp filter forbids", "seccomp.num_faults"
	}
	if s := t.Signals; s != nil {
		for _, x := range []struct {
			v    uint64
			name string
		}{{s.SIGBUS, "SIGBUS"}, {s.SIGSEGV, "SIGSEGV"}, {s.SIGXFSZ, "SIGXFSZ"}, {s.SIGXCPU, "SIGXCPU"}, {s.SIGHUP, "SIGHUP"}, {s.SIGILL, "SIGILL"}} {
			if x.v > 0 {
				return "Firecracker caught " + x.name + " and shut the VM down", "signals." + strings.ToLower(x.name)
			}
		}
	}
	return "", ""
}

func (c *VCPUCounters) field(key []byte) *uint64 {
	switch string(key) {
	case "exit_io_in":
		return &c.ExitIOIn
	case "exit_io_out":
		return &c.ExitIOOut
	case "exit_mmio_read":
		return &c.ExitMMIORead
	case "exit_mmio_write":
		return &c.ExitMMIOWrite
	case "failures":
		return &c.Failures
	}
	return nil
}

// agg is the aggregate named key, or nil.
func (c *VCPUCounters) agg(key []byte) *LatencyAgg {
	switch string(key) {
	case "exit_io_in_agg":
		return &c.ExitIOInAgg
	case "exit_io_out_agg":
		return &c.ExitIOOutAgg
	case "exit_mmio_read_agg":
		return &c.ExitMMIOReadAgg
	case "exit_mmio_write_agg":
		return &c.ExitMMIOWriteAgg
	}
	return nil
}

func (a *LatencyAgg) field(key []byte) *uint64 {
	if string(key) == "sum_us" {
		return &a.SumUs
	}
	return nil
}

func (c *VsockCounters) field(key []byte) *uint64 {
	switch string(key) {
	case "conns_added":
		return &c.ConnsAdded
	case "conns_killed":
		return &c.ConnsKilled
	case "conns_removed":
		return &c.ConnsRemoved
	case "rx_bytes_count":
		return &c.RxBytes
	case "tx_bytes_count":
		return &c.TxBytes
	case "muxer_event_fails":
		return &c.MuxerEventFails
	case "conn_event_fails":
		return &c.ConnEventFails
	case "tx_flush_fails":
		return &c.TxFlushFails
	case "tx_write_fails":
		return &c.TxWriteFails
	case "rx_read_fails":
		return &c.RxReadFails
	}
	return nil
}

func (c *SignalCounters) field(key []byte) *uint64 {
	switch string(key) {
	case "sigbus":
		return &c.SIGBUS
	case "sigsegv":
		return &c.SIGSEGV
	case "sigxfsz":
		return &c.SIGXFSZ
	case "sigxcpu":
		return &c.SIGXCPU
	case "sigpipe":
		return &c.SIGPIPE
	case "sighup":
		return &c.SIGHUP
	case "sigill":
		return &c.SIGILL
	}
	return nil
}

func (c *SeccompCounters) field(key []byte) *uint64 {
	if string(key) == "num_faults" {
		return &c.NumFaults
	}
	return nil
}

func (c *VMMCounters) field(key []byte) *uint64 {
	if string(key) == "panic_count" {
		return &c.PanicCount
	}
	return nil
}

func (c *VhostUserCounters) field(key []byte) *uint64 {
	switch string(key) {
	case "activate_fails":
		return &c.ActivateFails
	case "cfg_fails":
		return &c.CfgFails
	case "init_time_us":
		return &c.InitTimeUs
	}
	return nil
}
