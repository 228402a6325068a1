package serve

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fcmon/fcmon/internal/core/version"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// registry builds the agent's own Prometheus registry (never the global
// one): the VM collector, plus the Go runtime and process figures of the
// agent itself.
func (a *api) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newVMCollector(a.Host),
		infoCollector{a.Host},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("host_agent_"+name, help, append([]string{"vm_id"}, labels...), nil)
}

// vmCollector exports every attached VM's figures at scrape time, labelled
// vm_id. Counters are exported as totals (Prometheus computes rates); a
// source a VM lacks exports nothing, rather than zeros.
type vmCollector struct {
	h                                         Host
	info, attached, clashes                   *prometheus.Desc
	cpu, vcpu, cpuPct, vcpuPct                *prometheus.Desc
	rss, threads, uptime, up, vcpus           *prometheus.Desc
	netRx, netTx, netRxPkts, netTxPkts        *prometheus.Desc
	blkRead, blkWrite, blkReads, blkWrites    *prometheus.Desc
	lines, badLines, missed, lastLine         *prometheus.Desc
	flushes, flushFails                       *prometheus.Desc
	tapRx, tapTx, tapRxPkts, tapTxPkts, tapDr *prometheus.Desc
	vmm                                       vmmDescs
	cgroup                                    cgroupDescs
}

func newVMCollector(h Host) *vmCollector {
	return &vmCollector{
		h:        h,
		vmm:      newVMMDescs(),
		cgroup:   newCgroupDescs(),
		info:     prometheus.NewDesc("host_agent_build_info", "Version of the host agent.", []string{"version"}, nil),
		attached: prometheus.NewDesc("host_agent_vms_attached", "VMs attached to this host agent.", nil, nil),
		clashes: prometheus.NewDesc("host_agent_id_clashes_total",
			"Firecracker processes that reported the id of a VM another one holds (each watched under id@pid).", nil, nil),
		up:         desc("process_up", "1 when the VMM process is alive, 0 when it is gone."),
		cpu:        desc("cpu_seconds_total", "CPU time of the VMM process, all threads."),
		vcpu:       desc("vcpu_seconds_total", "CPU time of the VMM's live fc_vcpu threads."),
		cpuPct:     desc("cpu_usage_percent", "VMM CPU over the latest window, percent of one core."),
		vcpuPct:    desc("vcpu_usage_percent", "vCPU threads' CPU over the latest window, percent of one core."),
		rss:        desc("memory_rss_bytes", "Resident memory of the VMM process."),
		threads:    desc("threads", "Threads of the VMM process."),
		vcpus:      desc("vcpus", "vCPUs of the VM: Firecracker's vcpu_count, else its live fc_vcpu threads (divides the vCPU seconds into a share)."),
		uptime:     desc("uptime_seconds", "Age of the VMM process."),
		netRx:      desc("network_receive_bytes_total", "Bytes into the guest per Firecracker (virtio headers included), since attach.", "interface"),
		netTx:      desc("network_transmit_bytes_total", "Bytes out of the guest per Firecracker (virtio headers included), since attach.", "interface"),
		netRxPkts:  desc("network_receive_packets_total", "Packets into the guest per Firecracker, since attach.", "interface"),
		netTxPkts:  desc("network_transmit_packets_total", "Packets out of the guest per Firecracker, since attach.", "interface"),
		blkRead:    desc("block_read_bytes_total", "Bytes read by the guest per Firecracker, since attach.", "drive"),
		blkWrite:   desc("block_written_bytes_total", "Bytes written by the guest per Firecracker, since attach.", "drive"),
		blkReads:   desc("block_reads_total", "Read requests per Firecracker, since attach.", "drive"),
		blkWrites:  desc("block_writes_total", "Write requests per Firecracker, since attach.", "drive"),
		lines:      desc("firecracker_lines_total", "Metrics lines decoded."),
		badLines:   desc("firecracker_bad_lines_total", "Metrics lines or fragments that could not be decoded."),
		missed:     desc("firecracker_missed_metrics_total", "Metrics lines Firecracker failed to write (logger.missed_metrics_count)."),
		lastLine:   desc("firecracker_last_line_timestamp_seconds", "utc_timestamp_ms of the newest metrics line, in seconds."),
		flushes:    desc("firecracker_flush_requests_total", "FlushMetrics calls made."),
		flushFails: desc("firecracker_flush_failures_total", "FlushMetrics calls that failed."),
		tapRx:      desc("tap_receive_bytes_total", "Bytes the guest received through its tap (the tap's tx).", "device"),
		tapTx:      desc("tap_transmit_bytes_total", "Bytes the guest sent through its tap (the tap's rx).", "device"),
		tapRxPkts:  desc("tap_receive_packets_total", "Packets the guest received through its tap.", "device"),
		tapTxPkts:  desc("tap_transmit_packets_total", "Packets the guest sent through its tap.", "device"),
		tapDr:      desc("tap_receive_dropped_total", "Packets for the guest the tap dropped.", "device"),
	}
}

// Describe sends every descriptor, so the registry checks them.
func (c *vmCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.attached, c.clashes, c.up, c.cpu, c.vcpu, c.cpuPct, c.vcpuPct, c.vcpus,
		c.rss, c.threads, c.uptime, c.netRx, c.netTx, c.netRxPkts, c.netTxPkts, c.blkRead, c.blkWrite,
		c.blkReads, c.blkWrites, c.lines, c.badLines, c.missed, c.lastLine, c.flushes, c.flushFails,
		c.tapRx, c.tapTx, c.tapRxPkts, c.tapTxPkts, c.tapDr} {
		ch <- d
	}
	c.vmm.describe(ch)
	c.cgroup.describe(ch)
}

// Collect exports the VMs as they are now.
func (c *vmCollector) Collect(ch chan<- prometheus.Metric) {
	vms := c.h.VMs()
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, version.Version)
	ch <- prometheus.MustNewConstMetric(c.attached, prometheus.GaugeValue, float64(len(vms)))
	ch <- prometheus.MustNewConstMetric(c.clashes, prometheus.CounterValue, float64(c.h.Clashes()))
	for _, v := range vms {
		st := v.Stats()
		e := emitter{ch: ch, id: v.ID()}
		if v.PID() > 0 {
			c.collectProcess(e, st)
		}
		if n := v.VCPUs(st.Process); n > 0 {
			e.gauge(c.vcpus, float64(n))
		}
		c.collectFirecracker(e, st)
		c.vmm.collect(e, st)
		c.cgroup.collect(e, st.Cgroup)
		if t := st.Tap; t != nil {
			e.counter(c.tapRx, float64(t.RxBytesTotal), t.Device)
			e.counter(c.tapTx, float64(t.TxBytesTotal), t.Device)
			e.counter(c.tapRxPkts, float64(t.RxPacketsTotal), t.Device)
			e.counter(c.tapTxPkts, float64(t.TxPacketsTotal), t.Device)
			e.counter(c.tapDr, float64(t.RxDroppedTotal), t.Device)
		}
	}
}

func (c *vmCollector) collectProcess(e emitter, st wire.VMStats) {
	p := st.Process
	if p == nil {
		e.gauge(c.up, 0)
		return
	}
	e.gauge(c.up, 1)
	e.counter(c.cpu, p.CPUSecondsTotal)
	e.counter(c.vcpu, p.VCPUSecondsTotal)
	e.gauge(c.cpuPct, p.CPUUsagePercent)
	e.gauge(c.vcpuPct, p.VCPUUsagePercent)
	e.gauge(c.rss, float64(p.MemoryRSSKB)*1024)
	e.gauge(c.threads, float64(p.Threads))
	e.gauge(c.uptime, float64(p.UptimeSeconds))
}

func (c *vmCollector) collectFirecracker(e emitter, st wire.VMStats) {
	if f := st.Firecracker; f != nil {
		e.counter(c.lines, float64(f.Lines))
		e.counter(c.badLines, float64(f.BadLines))
		e.counter(c.missed, float64(f.MissedMetricsCount))
		if f.LastLineMs > 0 {
			e.gauge(c.lastLine, float64(f.LastLineMs)/1000)
		}
		if f.Flush != nil {
			e.counter(c.flushes, float64(f.Flush.Requests))
			e.counter(c.flushFails, float64(f.Flush.Failures))
		}
	}
	if n := st.Network; n != nil && n.Source == wire.RatesFirecracker {
		for name, i := range n.Interfaces {
			e.counter(c.netRx, float64(i.RxBytesTotal), name)
			e.counter(c.netTx, float64(i.TxBytesTotal), name)
			e.counter(c.netRxPkts, float64(i.RxPacketsTotal), name)
			e.counter(c.netTxPkts, float64(i.TxPacketsTotal), name)
		}
	}
	if b := st.Block; b != nil {
		for name, d := range b.Drives {
			e.counter(c.blkRead, float64(d.ReadBytesTotal), name)
			e.counter(c.blkWrite, float64(d.WriteBytesTotal), name)
			e.counter(c.blkReads, float64(d.ReadsTotal), name)
			e.counter(c.blkWrites, float64(d.WritesTotal), name)
		}
	}
}

// emitter sends one VM's metrics with its vm_id label first.
type emitter struct {
	ch chan<- prometheus.Metric
	id string
}

func (e emitter) gauge(d *prometheus.Desc, v float64, labels ...string) {
	e.send(d, prometheus.GaugeValue, v, labels)
}

func (e emitter) counter(d *prometheus.Desc, v float64, labels ...string) {
	e.send(d, prometheus.CounterValue, v, labels)
}

// send reports a metric it cannot build (a label that is not UTF-8, say)
// as an invalid metric: promhttp then logs it and serves the rest.
func (e emitter) send(d *prometheus.Desc, t prometheus.ValueType, v float64, labels []string) {
	m, err := prometheus.NewConstMetric(d, t, v, append([]string{e.id}, labels...)...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	e.ch <- m
}

// slogPrinter lets promhttp report errors through the agent's logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("serving /metrics", "err", v) }
