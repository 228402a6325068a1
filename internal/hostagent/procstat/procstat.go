// Package procstat reads the host-side figures of one process, typically a
// Firecracker VMM, from /proc/<pid>: CPU time of the whole process and of its
// vCPU threads (named "fc_vcpu N"), resident memory, threads and age. A
// Reader takes single readings; a Tracker samples pids in the background and
// turns pairs of readings into usage over a window. Only world-readable files
// are read, so other users' processes work too.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat. The kernel
// reports them in USER_HZ, which is 100 on every Linux architecture
// regardless of the kernel's internal tick rate.
const userHZ = 100

// ErrNotFound is returned (wrapped) for a pid with no live process: never
// existed, exited, or a zombie waiting to be reaped.
var ErrNotFound = errors.New("no such process")

// vcpuName matches the names Firecracker gives its vCPU threads.
var vcpuName = regexp.MustCompile(`^fc_vcpu [0-9]+$`)

// Sample is one reading of a process. CPU times are cumulative since the
// process started, in USER_HZ ticks.
type Sample struct {
	PID         int
	Comm        string
	StartTicks  uint64 // start time after boot; with PID it identifies the process
	CPUTicks    uint64 // user+system time of all threads, live and exited
	VCPUTicks   uint64 // user+system time of the live fc_vcpu threads
	VCPUThreads int    // how many fc_vcpu threads there are
	Threads     int
	RSSBytes    uint64
	UptimeSec   float64   // the process's age when read
	At          time.Time // when read (with a monotonic reading)
}

// Reader reads processes from a procfs mount. It is safe for concurrent use.
type Reader struct {
	root     string
	fs       procfs.FS
	pageSize uint64
}

// NewReader returns a Reader of the procfs mounted at root ("/proc" on a
// normal host; tests may pass a copy).
func NewReader(root string) (*Reader, error) {
	pfs, err := procfs.NewFS(root)
	if err != nil {
		return nil, fmt.Errorf("opening procfs at %s: %w", root, err)
	}
	return &Reader{root: root, fs: pfs, pageSize: uint64(os.Getpagesize())}, nil
}

// Read takes one reading of pid. It returns an error wrapping ErrNotFound
// when there is no live process with that pid.
func (r *Reader) Read(pid int) (Sample, error) {
	if pid <= 0 {
		return Sample{}, fmt.Errorf("process %d: %w", pid, ErrNotFound)
	}
	uptime, err := r.systemUptime()
	if err != nil {
		return Sample{}, err
	}
	p, err := r.fs.Proc(pid)
	if err != nil {
		return Sample{}, procErr(pid, err)
	}
	st, err := p.Stat()
	if err != nil {
		return Sample{}, procErr(pid, err)
	}
	if st.State == "Z" || st.State == "X" {
		return Sample{}, fmt.Errorf("process %d has exited: %w", pid, ErrNotFound)
	}
	s := Sample{
		PID: pid, Comm: st.Comm, At: time.Now(),
		StartTicks: st.Starttime,
		CPUTicks:   uint64(st.UTime) + uint64(st.STime),
		Threads:    st.NumThreads,
		RSSBytes:   uint64(max(st.RSS, 0)) * r.pageSize,
		UptimeSec:  max(uptime-float64(st.Starttime)/userHZ, 0),
	}
	r.addVCPUs(&s)
	return s, nil
}

// addVCPUs sums the vCPU threads. Threads come and go while they are listed;
// one that vanished is skipped rather than failing the reading.
func (r *Reader) addVCPUs(s *Sample) {
	threads, err := r.fs.AllThreads(s.PID)
	if err != nil {
		return
	}
	for _, t := range threads {
		st, err := t.Stat()
		if err != nil || !vcpuName.MatchString(st.Comm) {
			continue
		}
		s.VCPUThreads++
		s.VCPUTicks += uint64(st.UTime) + uint64(st.STime)
	}
}

// systemUptime reads the first field of <root>/uptime, in seconds.
func (r *Reader) systemUptime() (float64, error) {
	path := filepath.Join(r.root, "uptime")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	f, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte(" "))
	v, err := strconv.ParseFloat(string(f), 64)
	if err != nil {
		return 0, fmt.Errorf("parsing %s: %w", path, err)
	}
	return v, nil
}

// procErr maps the ways a vanished process shows up (no directory, or
// ESRCH reading a file of a process that exited while open) to ErrNotFound.
func procErr(pid int, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("process %d: %w", pid, ErrNotFound)
	}
	return fmt.Errorf("reading process %d: %w", pid, err)
}
