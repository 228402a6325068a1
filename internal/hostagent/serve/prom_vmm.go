package serve

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// vmmDescs are the figures of Firecracker's lines about the VMM itself and
// its devices' limits: vCPU exits, the vsock device, rate-limiter
// throttling, tap errors, vhost-user devices and what the VMM recorded as
// it died.
type vmmDescs struct {
	exits, exitSeconds, vcpuFails                *prometheus.Desc
	vsockConns, vsockRx, vsockTx, vsockErrs      *prometheus.Desc
	sigpipe, fatal                               *prometheus.Desc
	netThrottled, tapErrs, blkThrottled          *prometheus.Desc
	vhostActivateFails, vhostCfgFails, vhostInit *prometheus.Desc
}

func newVMMDescs() vmmDescs {
	return vmmDescs{
		exits:              desc("firecracker_vcpu_exits_total", "vCPU exits to the VMM, by kind (io_in, io_out, mmio_read, mmio_write).", "kind"),
		exitSeconds:        desc("firecracker_vcpu_exit_seconds_total", "Time the VMM spent handling vCPU exits, by kind (the sum_us of vcpu.exit_*_agg).", "kind"),
		vcpuFails:          desc("firecracker_vcpu_failures_total", "vCPU failures (vcpu.failures)."),
		vsockConns:         desc("firecracker_vsock_connections_total", "vsock connections by event: added, killed (by the muxer), removed.", "event"),
		vsockRx:            desc("firecracker_vsock_receive_bytes_total", "vsock bytes into the guest."),
		vsockTx:            desc("firecracker_vsock_transmit_bytes_total", "vsock bytes out of the guest."),
		vsockErrs:          desc("firecracker_vsock_errors_total", "vsock device failures (muxer, connection, flush, read and write fails)."),
		sigpipe:            desc("firecracker_sigpipe_total", "SIGPIPEs the VMM received and lived through."),
		fatal:              desc("firecracker_fatal", "1 once the VMM recorded why it is dying, labelled with the field of its line that says so (vmm.panic_count, seccomp.num_faults, signals.sigsegv ...).", "field"),
		netThrottled:       desc("network_throttled_total", "Times Firecracker's rate limiter held an interface's traffic back, by direction (rx into the guest, tx out).", "interface", "direction"),
		tapErrs:            desc("network_tap_errors_total", "Failed reads and writes of an interface's host tap.", "interface"),
		blkThrottled:       desc("block_throttled_total", "Requests held back, by what held them: rate_limiter, or io_engine (a full io_uring queue).", "drive", "by"),
		vhostActivateFails: desc("firecracker_vhost_user_activate_fails_total", "Failed activations of a vhost-user device (block_<drive_id>).", "device"),
		vhostCfgFails:      desc("firecracker_vhost_user_cfg_fails_total", "Failed configuration accesses of a vhost-user device.", "device"),
		vhostInit:          desc("firecracker_vhost_user_init_seconds", "Time a vhost-user device took to initialise.", "device"),
	}
}

func (d vmmDescs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.exits, d.exitSeconds, d.vcpuFails, d.vsockConns, d.vsockRx, d.vsockTx, d.vsockErrs,
		d.sigpipe, d.fatal, d.netThrottled, d.tapErrs, d.blkThrottled, d.vhostActivateFails, d.vhostCfgFails, d.vhostInit} {
		ch <- x
	}
}

func (d vmmDescs) collect(e emitter, st wire.VMStats) {
	if n := st.Network; n != nil && n.Source == wire.RatesFirecracker {
		for name, i := range n.Interfaces {
			e.counter(d.netThrottled, float64(i.RxThrottledTotal), name, "rx")
			e.counter(d.netThrottled, float64(i.TxThrottledTotal), name, "tx")
			e.counter(d.tapErrs, float64(i.TapErrorsTotal), name)
		}
	}
	if b := st.Block; b != nil {
		for name, dr := range b.Drives {
			e.counter(d.blkThrottled, float64(dr.ThrottledTotal), name, "rate_limiter")
			e.counter(d.blkThrottled, float64(dr.EngineThrottledTotal), name, "io_engine")
		}
	}
	if st.Firecracker == nil || st.Firecracker.VMM == nil {
		return
	}
	v := st.Firecracker.VMM
	for kind, n := range v.VCPUExits {
		e.counter(d.exits, float64(n), kind)
		e.counter(d.exitSeconds, float64(v.VCPUExitMicros[kind])/1e6, kind)
	}
	if v.VCPUExits != nil {
		e.counter(d.vcpuFails, float64(v.VCPUFailures))
	}
	if s := v.Vsock; s != nil {
		e.counter(d.vsockConns, float64(s.ConnsAdded), "added")
		e.counter(d.vsockConns, float64(s.ConnsKilled), "killed")
		e.counter(d.vsockConns, float64(s.ConnsRemoved), "removed")
		e.counter(d.vsockRx, float64(s.RxBytesTotal))
		e.counter(d.vsockTx, float64(s.TxBytesTotal))
		e.counter(d.vsockErrs, float64(s.ErrorsTotal))
	}
	e.counter(d.sigpipe, float64(v.SigpipeTotal))
	if v.Fatal != "" {
		e.gauge(d.fatal, 1, v.FatalField)
	}
	for name, dev := range v.VhostUser {
		e.counter(d.vhostActivateFails, float64(dev.ActivateFails), name)
		e.counter(d.vhostCfgFails, float64(dev.CfgFails), name)
		e.gauge(d.vhostInit, float64(dev.InitMicros)/1e6, name)
	}
}
