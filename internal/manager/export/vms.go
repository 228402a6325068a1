package export

import "github.com/prometheus/client_golang/prometheus"

// vmCollector exports every VM's latest sample at scrape time, labelled
// vm_id, vm_name and source (where CPU and memory came from: guest, host or
// none). A figure the sample lacks is not exported, never as 0; network
// and disk rates add rates_source (firecracker, guest or tap).
type vmCollector struct {
	latest func() []Labeled
	copy   []string // the labels copied onto every series (--prometheus-labels)

	cpu, memPct, memUsed, memTotal, memAvail, uptime *prometheus.Desc
	netRx, netTx, diskRead, diskWritten              *prometheus.Desc
	stale, reachable, lastSample, lastGuestSuccess   *prometheus.Desc
}

func newVMCollector(latest func() []Labeled, copyLabels []string) *vmCollector {
	vmDesc := func(name, help string, extra ...string) *prometheus.Desc {
		names := append(append([]string{"vm_id", "vm_name", "source"}, copyLabels...), extra...)
		return prometheus.NewDesc("fcmon_vm_"+name, help, names, nil)
	}
	return &vmCollector{
		latest:   latest,
		copy:     copyLabels,
		cpu:      vmDesc("cpu_usage_percent", "CPU usage over the latest window; with source=host the VMM's, which may exceed 100 when no vCPU threads were seen."),
		memPct:   vmDesc("memory_usage_percent", "Memory in use as a percentage of the guest's total (guest source only)."),
		memUsed:  vmDesc("memory_used_bytes", "Memory in use: the guest's total minus available, or with source=host the VMM's resident set."),
		memTotal: vmDesc("memory_total_bytes", "Memory the guest kernel sees (guest source only)."),
		memAvail: vmDesc("memory_available_bytes", "Memory the guest kernel can hand out without swapping (guest source only)."),
		uptime:   vmDesc("uptime_seconds", "Time since the guest booted, or with source=host the VMM process's age."),
		netRx:    vmDesc("network_receive_bytes_per_second", "Traffic into the guest, summed over its interfaces.", "rates_source"),
		netTx:    vmDesc("network_transmit_bytes_per_second", "Traffic out of the guest, summed over its interfaces.", "rates_source"),
		diskRead: vmDesc("disk_read_bytes_per_second", "Bytes read by the guest, summed over its drives.", "rates_source"),
		diskWritten: vmDesc("disk_written_bytes_per_second", "Bytes written by the guest, summed over its drives.",
			"rates_source"),
		stale:     vmDesc("stale", "1 when the newest CPU and memory figures are older than three poll intervals, else 0."),
		reachable: vmDesc("guest_agent_reachable", "1 when the latest poll of the guest agent succeeded, else 0."),
		lastSample: vmDesc("last_sample_timestamp_seconds",
			"When the manager assembled the latest sample, Unix seconds."),
		lastGuestSuccess: vmDesc("guest_agent_last_success_timestamp_seconds",
			"When a poll of the guest agent last succeeded, Unix seconds (absent for never)."),
	}
}

// Describe sends every descriptor, so the registry checks them.
func (c *vmCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cpu, c.memPct, c.memUsed, c.memTotal, c.memAvail, c.uptime,
		c.netRx, c.netTx, c.diskRead, c.diskWritten, c.stale, c.reachable, c.lastSample, c.lastGuestSuccess} {
		ch <- d
	}
}

// Collect exports the VMs' latest samples as they are now.
func (c *vmCollector) Collect(ch chan<- prometheus.Metric) {
	for _, vm := range c.latest() {
		s := vm.Sample
		e := emitter{ch: ch, labels: []string{vm.VMID, vm.VMName, s.Source}}
		for _, k := range c.copy {
			e.labels = append(e.labels, vm.Labels[k]) // "" is no label to Prometheus
		}
		e.float(c.cpu, s.CPUUsagePercent)
		e.float(c.memPct, s.MemoryUsagePercent)
		e.kib(c.memUsed, s.MemoryUsedKB)
		e.kib(c.memTotal, s.MemoryTotalKB)
		e.kib(c.memAvail, s.MemoryAvailableKB)
		if s.UptimeSeconds != nil {
			e.gauge(c.uptime, float64(*s.UptimeSeconds))
		}
		if n := s.Network; n != nil {
			e.gauge(c.netRx, n.RxBytesPerSec, n.Source)
			e.gauge(c.netTx, n.TxBytesPerSec, n.Source)
		}
		if d := s.Disk; d != nil {
			e.gauge(c.diskRead, d.ReadBytesPerSec, d.Source)
			e.gauge(c.diskWritten, d.WriteBytesPerSec, d.Source)
		}
		e.gauge(c.stale, boolValue(s.Stale))
		e.gauge(c.reachable, boolValue(s.GuestAgent.Reachable))
		if s.TimestampMs > 0 {
			e.gauge(c.lastSample, float64(s.TimestampMs)/1000)
		}
		if s.GuestAgent.LastSuccessMs > 0 {
			e.gauge(c.lastGuestSuccess, float64(s.GuestAgent.LastSuccessMs)/1000)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// emitter sends one VM's gauges with its labels first.
type emitter struct {
	ch     chan<- prometheus.Metric
	labels []string
}

// float exports *v when the sample has it.
func (e emitter) float(d *prometheus.Desc, v *float64) {
	if v != nil {
		e.gauge(d, *v)
	}
}

// kib exports *v, a figure in KiB, in bytes when the sample has it.
func (e emitter) kib(d *prometheus.Desc, v *uint64) {
	if v != nil {
		e.gauge(d, float64(*v)*1024)
	}
}

// gauge reports a metric it cannot build (a VM name that is not UTF-8,
// say) as an invalid metric: promhttp then skips it and serves the rest.
func (e emitter) gauge(d *prometheus.Desc, v float64, extra ...string) {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, append(e.labels[:len(e.labels):len(e.labels)], extra...)...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	e.ch <- m
}
