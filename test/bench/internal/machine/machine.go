// Package machine reads what the benchmarks report about processes on this
// machine (CPU time, resident memory, the load average), computes medians
// and percentiles, and handles the processes they run: stopping them, free
// ports, the open-file limit. Bench-only.
package machine

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ClockTick is the length of a tick of /proc/PID/stat's CPU times
// (USER_HZ, 100 on every Linux architecture Go supports).
const ClockTick = 10 * time.Millisecond

// CPUTime is the user plus system time of process pid (0 when it is gone).
func CPUTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.Atoi(f[11])
	k, _ := strconv.Atoi(f[12])
	return time.Duration(u+k) * ClockTick
}

var rssRe = regexp.MustCompile(`VmRSS:\s+(\d+)`)

// RSSKB is the resident set of process pid in KiB, -1 when unknown.
func RSSKB(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	m := rssRe.FindSubmatch(b)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// CPUMeter measures the CPU use of processes over a period as a
// percentage of one core.
type CPUMeter struct {
	pids []int
	cpu  time.Duration
	at   time.Time
}

// StartCPU begins a measurement of the processes pids together.
func StartCPU(pids ...int) CPUMeter {
	return CPUMeter{pids: pids, cpu: cpuTimes(pids), at: time.Now()}
}

// Percent is the processes' CPU time since StartCPU over the wall time, in
// percent of one core.
func (m CPUMeter) Percent() float64 {
	return float64(cpuTimes(m.pids)-m.cpu) / float64(time.Since(m.at)) * 100
}

func cpuTimes(pids []int) time.Duration {
	var t time.Duration
	for _, p := range pids {
		t += CPUTime(p)
	}
	return t
}

// Load1 is the 1-minute load average.
func Load1() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// WaitQuiet waits, at most max, until the 1-minute load average is below
// threshold, and returns the load average then.
func WaitQuiet(threshold float64, max time.Duration) float64 {
	deadline := time.Now().Add(max)
	for Load1() >= threshold && time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
	}
	return Load1()
}

// Median of v (NaN-free); 0 for none.
func Median(v []float64) float64 { return Percentile(v, 50) }

// Percentile returns the p-th percentile of v by the nearest-rank method;
// 0 for none.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
