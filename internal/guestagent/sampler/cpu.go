package sampler

import (
	"strconv"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// cpu is /proc/stat: CPU usage and its breakdown by mode, runnable and
// blocked tasks, and the kernel's event counters; with /proc's process
// count.
type cpu struct {
	prev, cur     procfs.Stat
	prevOK, curOK bool
	procs         int
	procsOK       bool
}

func init() { register(func(*Options) figure { return &cpu{} }) }

func (c *cpu) read(fs procfs.FS) []sourceErr {
	c.prev, c.prevOK = c.cur, c.curOK
	var err, perr error
	c.cur, err = fs.Stat()
	c.curOK = err == nil
	c.procs, perr = fs.ProcessCount()
	c.procsOK = perr == nil
	return append(failed("stat", err), failed("processes", perr)...)
}

func (c *cpu) fill(m *wire.GuestMetrics, w window) {
	if !c.curOK {
		return
	}
	m.CPU = &wire.CPUBreakdown{}
	if w.ok && c.prevOK {
		usage, br := cpuWindow(c.prev.Total, c.cur.Total)
		m.CPUUsagePercent, m.CPU = usage, &br
	}
	m.Processes = &wire.Processes{Running: c.cur.ProcsRunning, Blocked: c.cur.ProcsBlocked}
	if c.procsOK {
		m.Processes.Total = uint64(c.procs)
	}
}

// cpuWindow returns the usage and the per-mode breakdown, in percent, of the
// window between two readings of the aggregate CPU line. Idle and iowait are
// idle time; guest time is inside user and nice and is not added again. If
// any counter went backwards (a restored snapshot, a wrapped counter) or no
// time passed, the window reads as all zeros rather than a value outside
// [0, 100].
func cpuWindow(a, b procfs.CPUTimes) (float64, wire.CPUBreakdown) {
	prev := [8]uint64{a.User, a.Nice, a.System, a.Idle, a.IOWait, a.IRQ, a.SoftIRQ, a.Steal}
	cur := [8]uint64{b.User, b.Nice, b.System, b.Idle, b.IOWait, b.IRQ, b.SoftIRQ, b.Steal}
	var d [8]float64
	var total float64
	for i := range cur {
		if cur[i] < prev[i] {
			return 0, wire.CPUBreakdown{}
		}
		d[i] = float64(cur[i] - prev[i])
		total += d[i]
	}
	if total == 0 {
		return 0, wire.CPUBreakdown{}
	}
	pct := func(v float64) float64 { return round2(clampPercent(v / total * 100)) }
	br := wire.CPUBreakdown{User: pct(d[0]), Nice: pct(d[1]), System: pct(d[2]), Idle: pct(d[3]),
		IOWait: pct(d[4]), IRQ: pct(d[5]), SoftIRQ: pct(d[6]), Steal: pct(d[7])}
	return pct(total - d[3] - d[4]), br
}

var cpuModes = [8]string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}

func (c *cpu) prom(w *promtext.Writer) {
	if !c.curOK {
		return
	}
	st := &c.cur
	w.Family("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.")
	for _, p := range st.PerCPU {
		id := strconv.Itoa(p.ID)
		t := [8]uint64{p.User, p.Nice, p.System, p.Idle, p.IOWait, p.IRQ, p.SoftIRQ, p.Steal}
		for i, mode := range cpuModes {
			w.Sample(float64(t[i])/userHZ, "cpu", id, "mode", mode)
		}
	}
	w.Family("node_cpu_guest_seconds_total", "counter", "Seconds the CPUs spent in guests (VMs) for each mode.")
	for _, p := range st.PerCPU {
		id := strconv.Itoa(p.ID)
		w.Sample(float64(p.Guest)/userHZ, "cpu", id, "mode", "user")
		w.Sample(float64(p.GuestNice)/userHZ, "cpu", id, "mode", "nice")
	}
	w.Family("node_boot_time_seconds", "gauge", "Node boot time, in unixtime.")
	w.SampleUint(st.BootTime)
	w.Family("node_context_switches_total", "counter", "Total number of context switches.")
	w.SampleUint(st.ContextSwitches)
	w.Family("node_intr_total", "counter", "Total number of interrupts serviced.")
	w.SampleUint(st.Interrupts)
	w.Family("node_forks_total", "counter", "Total number of forks.")
	w.SampleUint(st.Forks)
	w.Family("node_procs_running", "gauge", "Number of processes in runnable state.")
	w.SampleUint(st.ProcsRunning)
	w.Family("node_procs_blocked", "gauge", "Number of processes blocked waiting for I/O to complete.")
	w.SampleUint(st.ProcsBlocked)
}
