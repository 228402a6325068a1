package procfs

import (
	"bytes"
	"strconv"
)

// CPUTimes is time spent in each CPU mode, in USER_HZ ticks (100 per
// second on every architecture Linux still supports). Guest and GuestNice
// are already included in User and Nice; the kernel reports them separately
// as well.
type CPUTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal, Guest, GuestNice uint64
}

// Total returns the ticks of all modes, counting guest time once (inside
// User and Nice).
func (t CPUTimes) Total() uint64 {
	return t.User + t.Nice + t.System + t.Idle + t.IOWait + t.IRQ + t.SoftIRQ + t.Steal
}

// IdleTotal returns the ticks the CPU had nothing to run: idle plus iowait.
func (t CPUTimes) IdleTotal() uint64 { return t.Idle + t.IOWait }

// CPUStat is the times of one CPU, identified by its number.
type CPUStat struct {
	ID int
	CPUTimes
}

// Stat is the content of /proc/stat.
type Stat struct {
	Total           CPUTimes  // the aggregate "cpu" line
	PerCPU          []CPUStat // "cpuN" lines, in file order (online CPUs only)
	BootTime        uint64    // "btime": boot time in seconds since the Unix epoch
	ContextSwitches uint64    // "ctxt"
	Interrupts      uint64    // first number of "intr": all interrupts serviced
	Forks           uint64    // "processes": processes and threads created since boot
	ProcsRunning    uint64    // "procs_running": runnable threads now
	ProcsBlocked    uint64    // "procs_blocked": threads blocked on I/O now
}

// Stat reads <proc>/stat. Kernels print fewer CPU columns the older they are
// (2.6 kernels lack steal, guest and guest_nice); missing columns read as 0,
// but a CPU line with fewer than 4 columns is an error, as is a file without
// the "cpu", "ctxt" or "btime" lines.
func (fs FS) Stat() (Stat, error) {
	return readAndParse(fs.procPath("stat"), parseStat)
}

// maxCPUID bounds CPU numbers well above any kernel's NR_CPUS, so a garbled
// number cannot pass as a CPU.
const maxCPUID = 1 << 20

const (
	seenCPU = 1 << iota
	seenIntr
	seenCtxt
	seenBtime
	seenProcesses
	seenRunning
	seenBlocked
)

func parseStat(data []byte) (Stat, error) {
	var st Stat
	if err := checkTerminated(data); err != nil {
		return st, err
	}
	if n := bytes.Count(data, []byte("\ncpu")); n > 0 {
		st.PerCPU = make([]CPUStat, 0, n)
	}
	seen := 0
	l := lines[[]byte]{rest: data}
	for line, ok := l.next(); ok; line, ok = l.next() {
		key, rest := nextField(line)
		var flag int
		var dst *uint64
		switch string(key) {
		case "cpu":
			flag = seenCPU
		case "intr":
			flag, dst = seenIntr, &st.Interrupts
		case "ctxt":
			flag, dst = seenCtxt, &st.ContextSwitches
		case "btime":
			flag, dst = seenBtime, &st.BootTime
		case "processes":
			flag, dst = seenProcesses, &st.Forks
		case "procs_running":
			flag, dst = seenRunning, &st.ProcsRunning
		case "procs_blocked":
			flag, dst = seenBlocked, &st.ProcsBlocked
		default:
			if !hasPrefix(key, "cpu") {
				continue // softirq, and lines older or newer kernels add
			}
			c, err := parseCPULine(l.n, key, rest)
			if err != nil {
				return st, err
			}
			st.PerCPU = append(st.PerCPU, c)
			continue
		}
		if seen&flag != 0 {
			return st, lineErr(l.n, "duplicate "+quote(key)+" line")
		}
		seen |= flag
		var err error
		if flag == seenCPU {
			st.Total, err = parseCPUTimes(l.n, key, rest)
		} else {
			err = parseStatValue(l.n, key, rest, dst, flag == seenIntr)
		}
		if err != nil {
			return st, err
		}
	}
	if len(st.PerCPU) == 0 {
		st.PerCPU = nil // the capacity guess above counted something else
	}
	for _, req := range [...]struct {
		flag int
		name string
	}{{seenCPU, "cpu"}, {seenCtxt, "ctxt"}, {seenBtime, "btime"}} {
		if seen&req.flag == 0 {
			return st, lineErr(0, "no "+strconv.Quote(req.name)+" line")
		}
	}
	return st, nil
}

// parseStatValue parses the number after key into dst. Only "intr" carries
// more numbers (per-IRQ counts), which are not needed.
func parseStatValue(n int, key, rest []byte, dst *uint64, more bool) error {
	f, rest := nextField(rest)
	v, err := parseUint(f)
	if err != nil {
		return fieldErr(n, string(key)+" value", f, err)
	}
	if extra, _ := nextField(rest); len(extra) > 0 && !more {
		return lineErr(n, string(key)+": unexpected field "+quote(extra))
	}
	*dst = v
	return nil
}

func parseCPULine(n int, key, rest []byte) (CPUStat, error) {
	id, err := parseUint(key[len("cpu"):])
	if err != nil || id > maxCPUID {
		return CPUStat{}, lineErr(n, "bad cpu line name "+quote(key))
	}
	t, err := parseCPUTimes(n, key, rest)
	return CPUStat{ID: int(id), CPUTimes: t}, err
}

func parseCPUTimes(n int, key, rest []byte) (CPUTimes, error) {
	var v [10]uint64
	cols := 0
	for f, r := nextField(rest); len(f) > 0; f, r = nextField(r) {
		x, err := parseUint(f)
		if err != nil {
			return CPUTimes{}, fieldErr(n, string(key)+" column "+strconv.Itoa(cols+1), f, err)
		}
		if cols < len(v) {
			v[cols] = x // newer kernels may append columns: ignore them
		}
		cols++
	}
	if cols < 4 {
		return CPUTimes{}, lineErr(n, string(key)+": "+strconv.Itoa(cols)+" columns, want at least 4")
	}
	return CPUTimes{
		User: v[0], Nice: v[1], System: v[2], Idle: v[3], IOWait: v[4],
		IRQ: v[5], SoftIRQ: v[6], Steal: v[7], Guest: v[8], GuestNice: v[9],
	}, nil
}
