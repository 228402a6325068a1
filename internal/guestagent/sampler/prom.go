package sampler

import (
	"strconv"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// userHZ is the unit of /proc/stat's CPU times: USER_HZ is 100 on every
// architecture's user-space ABI.
const userHZ = 100

// renderProm appends the sample in the Prometheus text format, with
// node_exporter's metric names for the quantities it shares, so existing
// node dashboards work against the guest agent.
func renderProm(b []byte, m *wire.GuestMetrics, r *reading) []byte {
	w := promtext.Writer{B: b}
	if r.statOK {
		cpuFamilies(&w, r)
	}
	if r.memOK {
		memoryFamilies(&w, r)
	}
	if r.loadOK {
		w.Family("node_load1", "gauge", "1m load average.")
		w.Sample(r.load.Load1)
		w.Family("node_load5", "gauge", "5m load average.")
		w.Sample(r.load.Load5)
		w.Family("node_load15", "gauge", "15m load average.")
		w.Sample(r.load.Load15)
	}
	networkFamilies(&w, r)
	diskFamilies(&w, r)
	filesystemFamilies(&w, r)
	pressureFamilies(&w, r)
	w.Family("node_time_seconds", "gauge", "System time in seconds since epoch (1970).")
	w.Sample(float64(r.at.UnixMilli()) / 1000)
	if r.kernel != "" || r.hostname != "" {
		w.Family("node_uname_info", "gauge", "Labeled system information as provided by the uname system call.")
		w.Sample(1, "nodename", r.hostname, "release", r.kernel, "sysname", "Linux")
	}
	agentFamilies(&w, m, r)
	return w.B
}

var cpuModes = [8]string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

func cpuFamilies(w *promtext.Writer, r *reading) {
	w.Family("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.")
	for _, c := range r.stat.PerCPU {
		id := strconv.Itoa(c.ID)
		t := [8]uint64{c.User, c.Nice, c.System, c.Idle, c.IOWait, c.IRQ, c.SoftIRQ, c.Steal}
		for i, mode := range cpuModes {
			w.Sample(float64(t[i])/userHZ, "cpu", id, "mode", mode)
		}
	}
	w.Family("node_cpu_guest_seconds_total", "counter", "Seconds the CPUs spent in guests (VMs) for each mode.")
	for _, c := range r.stat.PerCPU {
		id := strconv.Itoa(c.ID)
		w.Sample(float64(c.Guest)/userHZ, "cpu", id, "mode", "user")
		w.Sample(float64(c.GuestNice)/userHZ, "cpu", id, "mode", "nice")
	}
	w.Family("node_boot_time_seconds", "gauge", "Node boot time, in unixtime.")
	w.SampleUint(r.stat.BootTime)
	w.Family("node_context_switches_total", "counter", "Total number of context switches.")
	w.SampleUint(r.stat.ContextSwitches)
	w.Family("node_intr_total", "counter", "Total number of interrupts serviced.")
	w.SampleUint(r.stat.Interrupts)
	w.Family("node_forks_total", "counter", "Total number of forks.")
	w.SampleUint(r.stat.Forks)
	w.Family("node_procs_running", "gauge", "Number of processes in runnable state.")
	w.SampleUint(r.stat.ProcsRunning)
	w.Family("node_procs_blocked", "gauge", "Number of processes blocked waiting for I/O to complete.")
	w.SampleUint(r.stat.ProcsBlocked)
}

// memoryFamilies exports every /proc/meminfo line as node_exporter does:
// node_memory_<Field>_bytes for kB fields, node_memory_<Field> otherwise,
// with "Active(anon)" spelled Active_anon.
func memoryFamilies(w *promtext.Writer, r *reading) {
	seen := make(map[string]bool, len(r.mem.Fields))
	for _, f := range r.mem.Fields {
		name := "node_memory_" + metricName(f.Name)
		value := f.Value
		help := "Memory information field " + f.Name + "."
		if f.KB {
			name += "_bytes"
			value *= 1024
		}
		if seen[name] {
			continue // a repeated field would split its family, which parsers refuse
		}
		seen[name] = true
		w.Family(name, "gauge", help)
		w.SampleUint(value)
	}
}

// metricName maps a meminfo field to the characters a metric name allows.
func metricName(field string) string {
	b := make([]byte, 0, len(field)+1)
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch {
		case c == ')':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c >= '0' && c <= '9' && i > 0:
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}

func networkFamilies(w *promtext.Writer, r *reading) {
	type counter struct {
		name, help string
		get        func(i int) uint64
	}
	counters := []counter{
		{"node_network_receive_bytes_total", "Network device statistic receive_bytes.", func(i int) uint64 { return r.net[i].RxBytes }},
		{"node_network_receive_packets_total", "Network device statistic receive_packets.", func(i int) uint64 { return r.net[i].RxPackets }},
		{"node_network_receive_errs_total", "Network device statistic receive_errs.", func(i int) uint64 { return r.net[i].RxErrors }},
		{"node_network_receive_drop_total", "Network device statistic receive_drop.", func(i int) uint64 { return r.net[i].RxDropped }},
		{"node_network_transmit_bytes_total", "Network device statistic transmit_bytes.", func(i int) uint64 { return r.net[i].TxBytes }},
		{"node_network_transmit_packets_total", "Network device statistic transmit_packets.", func(i int) uint64 { return r.net[i].TxPackets }},
		{"node_network_transmit_errs_total", "Network device statistic transmit_errs.", func(i int) uint64 { return r.net[i].TxErrors }},
		{"node_network_transmit_drop_total", "Network device statistic transmit_drop.", func(i int) uint64 { return r.net[i].TxDropped }},
	}
	if len(r.net) == 0 {
		return
	}
	for _, c := range counters {
		w.Family(c.name, "counter", c.help)
		for i := range r.net {
			w.SampleUint(c.get(i), "device", r.net[i].Name)
		}
	}
}

func diskFamilies(w *promtext.Writer, r *reading) {
	if len(r.disks) == 0 {
		return
	}
	type counter struct {
		name, help string
		get        func(i int) float64
	}
	counters := []counter{
		{"node_disk_reads_completed_total", "The total number of reads completed successfully.", func(i int) float64 { return float64(r.disks[i].ReadsCompleted) }},
		{"node_disk_read_bytes_total", "The total number of bytes read successfully.", func(i int) float64 { return float64(r.disks[i].ReadBytes()) }},
		{"node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", func(i int) float64 { return float64(r.disks[i].ReadTimeMs) / 1000 }},
		{"node_disk_writes_completed_total", "The total number of writes completed successfully.", func(i int) float64 { return float64(r.disks[i].WritesCompleted) }},
		{"node_disk_written_bytes_total", "The total number of bytes written successfully.", func(i int) float64 { return float64(r.disks[i].WriteBytes()) }},
		{"node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", func(i int) float64 { return float64(r.disks[i].WriteTimeMs) / 1000 }},
		{"node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", func(i int) float64 { return float64(r.disks[i].IOTimeMs) / 1000 }},
	}
	for _, c := range counters {
		w.Family(c.name, "counter", c.help)
		for i := range r.disks {
			w.Sample(c.get(i), "device", r.disks[i].Name)
		}
	}
	w.Family("node_disk_io_now", "gauge", "The number of I/Os currently in progress.")
	for _, d := range r.disks {
		w.SampleUint(d.IOInProgress, "device", d.Name)
	}
}

func filesystemFamilies(w *promtext.Writer, r *reading) {
	if len(r.fs) == 0 {
		return
	}
	families := []struct {
		name, help string
		get        func(e fsEntry) uint64
	}{
		{"node_filesystem_size_bytes", "Filesystem size in bytes.", func(e fsEntry) uint64 { return e.usage.TotalBytes }},
		{"node_filesystem_free_bytes", "Filesystem free space in bytes.", func(e fsEntry) uint64 { return e.usage.FreeBytes }},
		{"node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", func(e fsEntry) uint64 { return e.usage.AvailableBytes }},
	}
	for _, f := range families {
		w.Family(f.name, "gauge", f.help)
		for _, e := range r.fs {
			w.SampleUint(f.get(e), "device", e.mount.Device, "fstype", e.mount.FSType, "mountpoint", e.mount.MountPoint)
		}
	}
}

func pressureFamilies(w *promtext.Writer, r *reading) {
	stalls := []struct {
		res        int
		full       bool
		name, help string
	}{
		{0, false, "node_pressure_cpu_waiting_seconds_total", "Total time in seconds that processes have waited for CPU time."},
		{1, false, "node_pressure_memory_waiting_seconds_total", "Total time in seconds that processes have waited for memory."},
		{1, true, "node_pressure_memory_stalled_seconds_total", "Total time in seconds no process could make progress due to memory congestion."},
		{2, false, "node_pressure_io_waiting_seconds_total", "Total time in seconds that processes have waited due to IO congestion."},
		{2, true, "node_pressure_io_stalled_seconds_total", "Total time in seconds no process could make progress due to IO congestion."},
	}
	for _, s := range stalls {
		p := r.psi[s.res]
		if !r.psiOK[s.res] || (s.full && !p.HasFull) {
			continue
		}
		total := p.Some.TotalUs
		if s.full {
			total = p.Full.TotalUs
		}
		w.Family(s.name, "counter", s.help)
		w.Sample(float64(total) / 1e6)
	}
}

// agentFamilies are the agent's own figures and the headline percentages.
func agentFamilies(w *promtext.Writer, m *wire.GuestMetrics, r *reading) {
	w.Family("guest_agent_build_info", "gauge", "The guest agent's version; always 1.")
	w.Sample(1, "version", m.AgentVersion)
	w.Family("guest_agent_cpu_usage_percent", "gauge", "Share of CPU time not idle over the last sampling window, in percent.")
	w.Sample(m.CPUUsagePercent)
	w.Family("guest_agent_memory_usage_percent", "gauge", "Memory in use (total minus available), in percent of total.")
	w.Sample(m.MemoryUsagePercent)
	w.Family("guest_agent_sample_window_seconds", "gauge", "Length of the window the percentages and rates cover.")
	w.Sample(float64(m.IntervalMs) / 1000)
	w.Family("guest_agent_sample_duration_seconds", "gauge", "Time the last sample took to read the kernel.")
	w.Sample(r.duration.Seconds())
	w.Family("guest_agent_source_errors", "gauge", "Sources that could not be read in the last sample; 0 when all were read.")
	w.SampleUint(uint64(len(r.errs)))
}
