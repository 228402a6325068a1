// Package cgroup reads the cgroup a VMM process lives in — the one
// Firecracker's jailer makes per VM (--cgroup-version 1|2,
// --parent-cgroup) — for cgroup v2 and v1: CPU use, quota and throttling,
// memory use against its limit and the OOM killer's counts, I/O per
// device, and pressure stall information. Reading is kept apart from
// parsing (parse.go), and the hierarchy's mount point is a value, so tests
// point it at fixture trees laid out as the kernel's.
package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// DefaultRoot is where the cgroup hierarchies are mounted.
const DefaultRoot = "/sys/fs/cgroup"

// unlimitedV1 is where cgroup v1 limits mean none: the kernel writes
// PAGE_COUNTER_MAX pages in bytes, about 2^63.
const unlimitedV1 = 1 << 62

// FS reads cgroups below Root, and processes' membership below Proc.
type FS struct {
	Root string // default DefaultRoot
	Proc string // default /proc
}

// Reading is one read of a cgroup's files. Counters are cumulative.
type Reading struct {
	At      time.Time
	Version int    // 1 or 2
	Path    string // in the hierarchy, as /proc/PID/cgroup names it

	CPUUsageUs, CPUUserUs, CPUSystemUs uint64
	Periods, Throttled, ThrottledUs    uint64
	QuotaUs, PeriodUs                  uint64
	Quota                              bool // QuotaUs holds; false: no quota

	MemCurrent, MemPeak uint64
	HasPeak             bool
	MemLimit, MemHigh   uint64
	Limited, HighSet    bool
	// Memory events: v2's memory.events; v1 counts hitting the limit in
	// Max (memory.failcnt) and kills in OOMKill (memory.oom_control).
	EventHigh, EventMax, EventOOM, EventOOMKill uint64
	Anon, File                                  uint64

	IO []IO // sorted by device

	CPUPressure, MemoryPressure, IOPressure *PSI
}

// Membership reads /proc/PID/cgroup.
func (f FS) Membership(pid int) (Membership, error) {
	proc := f.Proc
	if proc == "" {
		proc = "/proc"
	}
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return Membership{}, err
	}
	return parseProcCgroup(b)
}

// Read reads the cgroup of m: v1 where its CPU or memory controller is on
// a v1 hierarchy (the hybrid layout included), else v2. A process in the
// root cgroup has no cgroup of its own: ErrRoot.
func (f FS) Read(m Membership) (Reading, error) { return f.read(m, nil) }

// carry takes from prev the parts of a reading that a counters-only read
// leaves out: quota and limits, memory.stat, I/O, pressure.
func (r *Reading) carry(prev *Reading) {
	r.QuotaUs, r.PeriodUs, r.Quota = prev.QuotaUs, prev.PeriodUs, prev.Quota
	r.MemLimit, r.Limited, r.MemHigh, r.HighSet = prev.MemLimit, prev.Limited, prev.MemHigh, prev.HighSet
	r.Anon, r.File, r.IO = prev.Anon, prev.File, prev.IO
	r.CPUPressure, r.MemoryPressure, r.IOPressure = prev.CPUPressure, prev.MemoryPressure, prev.IOPressure
}

// read is Read with prev nil; given prev, a reading of the same cgroup, it
// reads only what moves every second — CPU use, throttling, memory in
// use, its peak, the limit and OOM counters — and carries the rest from
// prev: a third of the files of a full read.
func (f FS) read(m Membership, prev *Reading) (Reading, error) {
	root := f.Root
	if root == "" {
		root = DefaultRoot
	}
	_, cpu1 := m.V1["cpu"]
	_, mem1 := m.V1["memory"]
	if cpu1 || mem1 {
		// A controller whose path is the root is the host's figures, not
		// the VMM's: left out (a memory cgroup alone is common).
		own := map[string]string{}
		for c, p := range m.V1 {
			if p != "/" {
				own[c] = p
			}
		}
		if len(own) == 0 {
			return Reading{}, ErrRoot
		}
		return readV1(root, own, prev)
	}
	if m.V2 == "" {
		return Reading{}, errors.New("the process is in no cgroup v2 and has no v1 cpu or memory controller")
	}
	if m.V2 == "/" {
		return Reading{}, ErrRoot
	}
	dir := filepath.Join(root, m.V2)
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err != nil {
		dir = filepath.Join(root, "unified", m.V2) // the hybrid layout's v2
	}
	return readV2(dir, m.V2, prev)
}

// ErrRoot: the process is in the root cgroup, whose figures are the host's.
var ErrRoot = errors.New("the process is in the root cgroup (no cgroup of its own: the jailer's --cgroup-version makes one)")

// files reads the named files of dir: a missing file is left out (a
// controller not enabled, an older kernel), any other error is returned.
func files(dir string, names ...string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(names))
	scratch := make([]byte, 4096)
	for _, n := range names {
		b, err := readFile(filepath.Join(dir, n), &scratch)
		// A missing file, or one of a controller the cgroup does not have.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENODEV) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[n] = b
	}
	return out, nil
}

// readFile reads a small file in three system calls (open, read, close),
// where os.ReadFile takes five: cgroup files are seq_files, whose read
// fills the buffer while the file has more, so a short read is the end.
// The bytes are a copy; scratch is grown for a longer file and reused.
func readFile(path string, scratch *[]byte) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	buf, n := *scratch, 0
	for {
		if n == len(buf) {
			if n >= maxFile {
				return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("longer than 1 MiB")}
			}
			buf = append(buf, make([]byte, len(buf))...)
			*scratch = buf
		}
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		n += m
		if m == 0 || n < len(buf) {
			return append([]byte(nil), buf[:n]...), nil
		}
	}
}

// maxFile bounds one cgroup file (io.stat of thousands of devices).
const maxFile = 1 << 20

// The files of a v2 cgroup: those read every round, then the rest.
var (
	v2Counters = []string{"cpu.stat", "memory.current", "memory.peak", "memory.events"}
	v2All      = append(slices.Clip(v2Counters), "cpu.max", "memory.max", "memory.high", "memory.stat", "io.stat",
		"cpu.pressure", "memory.pressure", "io.pressure")
)

func readV2(dir, path string, prev *Reading) (Reading, error) {
	r := Reading{At: time.Now(), Version: 2, Path: path}
	names := v2All
	if prev != nil {
		r.carry(prev)
		names = v2Counters
	}
	fl, err := files(dir, names...)
	if err != nil {
		return r, err
	}
	if len(fl) == 0 {
		return r, fmt.Errorf("%s: no cgroup v2 files (is the cgroup gone?)", dir)
	}
	var errs []error
	note := func(name string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if b, ok := fl["cpu.stat"]; ok {
		note("cpu.stat", parseKeyed(b, func(k string, v uint64) {
			switch k {
			case "usage_usec":
				r.CPUUsageUs = v
			case "user_usec":
				r.CPUUserUs = v
			case "system_usec":
				r.CPUSystemUs = v
			case "nr_periods":
				r.Periods = v
			case "nr_throttled":
				r.Throttled = v
			case "throttled_usec":
				r.ThrottledUs = v
			}
		}))
	}
	if b, ok := fl["cpu.max"]; ok {
		var err error
		r.QuotaUs, r.PeriodUs, r.Quota, err = parseCPUMax(b)
		note("cpu.max", err)
	}
	value := func(name string, v *uint64, set *bool) {
		if b, ok := fl[name]; ok {
			n, limited, err := parseValue(b)
			note(name, err)
			*v = n
			if set != nil {
				*set = limited
			}
		}
	}
	value("memory.current", &r.MemCurrent, nil)
	if _, ok := fl["memory.peak"]; ok {
		value("memory.peak", &r.MemPeak, nil)
		r.HasPeak = true
	}
	value("memory.max", &r.MemLimit, &r.Limited)
	value("memory.high", &r.MemHigh, &r.HighSet)
	if b, ok := fl["memory.events"]; ok {
		note("memory.events", parseKeyed(b, func(k string, v uint64) {
			switch k {
			case "high":
				r.EventHigh = v
			case "max":
				r.EventMax = v
			case "oom":
				r.EventOOM = v
			case "oom_kill":
				r.EventOOMKill = v
			}
		}))
	}
	if b, ok := fl["memory.stat"]; ok {
		note("memory.stat", parseKeyed(b, func(k string, v uint64) {
			switch k {
			case "anon":
				r.Anon = v
			case "file":
				r.File = v
			}
		}))
	}
	if b, ok := fl["io.stat"]; ok {
		var err error
		r.IO, err = parseIOStat(b)
		note("io.stat", err)
	}
	for name, p := range map[string]**PSI{"cpu.pressure": &r.CPUPressure, "memory.pressure": &r.MemoryPressure, "io.pressure": &r.IOPressure} {
		if b, ok := fl[name]; ok {
			psi, err := parsePSI(b)
			note(name, err)
			if err == nil {
				*p = &psi
			}
		}
	}
	return r, errors.Join(errs...)
}

func readV1(root string, paths map[string]string, prev *Reading) (Reading, error) {
	r := Reading{At: time.Now(), Version: 1, Path: firstOf(paths, "cpu", "memory", "cpuacct", "blkio")}
	full := prev == nil
	if !full {
		r.carry(prev)
	}
	// some are the names to read: all on a full read, else the first n.
	some := func(n int, names ...string) []string {
		if full {
			return names
		}
		return names[:n]
	}
	var errs []error
	note := func(name string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	found := 0
	ctl := func(c string, names ...string) map[string][]byte {
		p, ok := paths[c]
		if !ok {
			return nil
		}
		fl, err := files(filepath.Join(root, c, p), names...)
		note(c, err)
		found += len(fl)
		return fl
	}
	num := func(fl map[string][]byte, name string, v *uint64) bool {
		b, ok := fl[name]
		if !ok {
			return false
		}
		n, _, err := parseValue(b)
		note(name, err)
		*v = n
		return err == nil
	}
	acct := ctl("cpuacct", "cpuacct.usage", "cpuacct.usage_user", "cpuacct.usage_sys")
	var ns uint64
	if num(acct, "cpuacct.usage", &ns) {
		r.CPUUsageUs = ns / 1000
	}
	if num(acct, "cpuacct.usage_user", &ns) {
		r.CPUUserUs = ns / 1000
	}
	if num(acct, "cpuacct.usage_sys", &ns) {
		r.CPUSystemUs = ns / 1000
	}
	cpu := ctl("cpu", some(1, "cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us")...)
	if b, ok := cpu["cpu.stat"]; ok {
		note("cpu.stat", parseKeyed(b, func(k string, v uint64) {
			switch k {
			case "nr_periods":
				r.Periods = v
			case "nr_throttled":
				r.Throttled = v
			case "throttled_time":
				r.ThrottledUs = v / 1000 // ns
			}
		}))
	}
	num(cpu, "cpu.cfs_period_us", &r.PeriodUs)
	if b, ok := cpu["cpu.cfs_quota_us"]; ok { // -1: no quota
		if q, err := strconv.ParseInt(string(trim(b)), 10, 64); err != nil {
			note("cpu.cfs_quota_us", errors.New("not a number: "+clip(string(b))))
		} else if q > 0 {
			r.QuotaUs, r.Quota = uint64(q), true
		}
	}
	mem := ctl("memory", some(4, "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.oom_control",
		"memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.stat")...)
	num(mem, "memory.usage_in_bytes", &r.MemCurrent)
	r.HasPeak = num(mem, "memory.max_usage_in_bytes", &r.MemPeak)
	if num(mem, "memory.limit_in_bytes", &r.MemLimit) {
		r.Limited = r.MemLimit < unlimitedV1
	}
	if num(mem, "memory.soft_limit_in_bytes", &r.MemHigh) {
		r.HighSet = r.MemHigh < unlimitedV1
	}
	num(mem, "memory.failcnt", &r.EventMax)
	if b, ok := mem["memory.oom_control"]; ok {
		note("memory.oom_control", parseKeyed(b, func(k string, v uint64) {
			if k == "oom_kill" {
				r.EventOOMKill = v
			}
		}))
	}
	if b, ok := mem["memory.stat"]; ok {
		var rss, cache, trss, tcache uint64
		var hier bool
		note("memory.stat", parseKeyed(b, func(k string, v uint64) {
			switch k {
			case "rss":
				rss = v
			case "cache":
				cache = v
			case "total_rss":
				trss, hier = v, true
			case "total_cache":
				tcache = v
			}
		}))
		r.Anon, r.File = rss, cache
		if hier { // the cgroup and those below it, as memory.usage_in_bytes counts
			r.Anon, r.File = trss, tcache
		}
	}
	blk := ctl("blkio", some(0, "blkio.throttle.io_service_bytes", "blkio.throttle.io_serviced")...)
	if len(blk) > 0 {
		devs := map[string]*IO{}
		if b, ok := blk["blkio.throttle.io_service_bytes"]; ok {
			note("blkio.throttle.io_service_bytes", parseBlkio(b, devs, true))
		}
		if b, ok := blk["blkio.throttle.io_serviced"]; ok {
			note("blkio.throttle.io_serviced", parseBlkio(b, devs, false))
		}
		for _, d := range devs {
			r.IO = append(r.IO, *d)
		}
		slices.SortFunc(r.IO, func(a, b IO) int { return compareDevice(a.Device, b.Device) })
	}
	if found == 0 {
		return Reading{}, fmt.Errorf("%s: no cgroup v1 files of %s (is the cgroup gone, or the hierarchy elsewhere?)", root, r.Path)
	}
	return r, errors.Join(errs...)
}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return ""
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func compareDevice(a, b string) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}
