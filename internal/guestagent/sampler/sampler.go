// Package sampler reads the guest's /proc and /sys every interval, turns the
// counters into percentages and rates over the last complete window, and
// keeps the result pre-rendered as JSON and Prometheus text, so the guest
// agent answers every request from memory without touching the kernel.
package sampler

import (
	"context"
	"errors"
	"io/fs"
	"sync/atomic"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
)

// Options configures a Sampler. FS is required; the rest have defaults.
type Options struct {
	FS      procfs.FS
	Version string // reported as agent_version

	// Now returns the current time; its monotonic reading measures windows.
	// Default time.Now.
	Now func() time.Time
	// StatFS returns the usage of a mounted filesystem. Default procfs.StatFS.
	StatFS func(path string) (procfs.FSUsage, error)
	// StatFSTimeout bounds one StatFS call; a mount that exceeds it (a dead
	// network filesystem) is skipped until the call returns. Default 1s.
	StatFSTimeout time.Duration
}

// Snapshot is one published sample: the document and both renderings.
// It is never modified after publication.
type Snapshot struct {
	Metrics wire.GuestMetrics
	JSON    []byte
	Prom    []byte
}

// Sampler produces Snapshots. Sample must not be called concurrently with
// itself; Latest may be called from any goroutine at any time.
type Sampler struct {
	opts   Options
	prev   *reading
	guard  *statfsGuard
	latest atomic.Pointer[Snapshot]
}

// New returns a Sampler that has not sampled yet.
func New(opts Options) *Sampler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StatFS == nil {
		opts.StatFS = procfs.StatFS
	}
	if opts.StatFSTimeout <= 0 {
		opts.StatFSTimeout = time.Second
	}
	return &Sampler{opts: opts, guard: newStatfsGuard(opts.StatFS, opts.StatFSTimeout)}
}

// Latest returns the newest Snapshot, or nil before the first Sample.
func (s *Sampler) Latest() *Snapshot { return s.latest.Load() }

// Sample reads the kernel once, computes the window since the previous
// Sample and publishes the result. The first Sample has no window: its
// percentages and rates are 0 and its interval_ms is absent.
func (s *Sampler) Sample() *Snapshot {
	cur := s.read()
	prev := s.prev
	if prev != nil && prev.bootID != cur.bootID {
		prev = nil // counters restarted with the kernel (snapshot restore)
	}
	snap := &Snapshot{Metrics: s.compute(prev, cur)}
	// Size the renderings like the last ones, so they are allocated once
	// instead of grown by doubling.
	jsonCap, promCap := 2048, 16384
	if last := s.latest.Load(); last != nil {
		jsonCap, promCap = len(last.JSON)+512, len(last.Prom)+2048
	}
	snap.JSON = snap.Metrics.AppendJSON(make([]byte, 0, jsonCap))
	snap.Prom = renderProm(make([]byte, 0, promCap), &snap.Metrics, cur)
	s.prev = cur
	s.latest.Store(snap)
	return snap
}

// Run samples every interval until ctx ends. It does not take the first
// sample; call Sample before Run when one is wanted at once.
func (s *Sampler) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sample()
		}
	}
}

// reading is everything one sample reads from the kernel, unprocessed.
type reading struct {
	at       time.Time
	duration time.Duration // how long reading took
	errs     []sourceErr

	stat     procfs.Stat
	statOK   bool
	mem      procfs.MemInfo
	memOK    bool
	uptime   float64
	uptimeOK bool
	load     procfs.LoadAvg
	loadOK   bool
	net      []procfs.NetDev
	disks    []procfs.DiskStat
	fs       []fsEntry
	psi      [3]procfs.Pressure // cpu, memory, io
	psiOK    [3]bool
	procs    int
	procsOK  bool
	cpus     int

	bootID, hostname, kernel string
}

// sourceErr records a source that could not be read in this sample.
type sourceErr struct {
	source string
	err    error
}

var psiResources = [3]string{"cpu", "memory", "io"}

func (s *Sampler) read() *reading {
	f := s.opts.FS
	r := &reading{at: s.opts.Now()}
	fail := func(source string, err error) bool {
		if err != nil {
			r.errs = append(r.errs, sourceErr{source, err})
		}
		return err == nil
	}
	var err error
	r.stat, err = f.Stat()
	r.statOK = fail("stat", err)
	r.mem, err = f.MemInfo()
	r.memOK = fail("meminfo", err)
	r.uptime, err = f.Uptime()
	r.uptimeOK = fail("uptime", err)
	r.load, err = f.LoadAvg()
	r.loadOK = fail("loadavg", err)
	r.net, err = f.NetDev()
	fail("netdev", err)
	r.disks, err = f.Disks()
	fail("diskstats", err)
	mounts, err := f.Mounts()
	if fail("mounts", err) {
		r.fs = s.guard.usages(mounts)
	}
	for i, res := range psiResources {
		r.psi[i], err = f.Pressure(res)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the kernel has no PSI: not an error
		}
		r.psiOK[i] = fail("pressure/"+res, err)
	}
	r.procs, err = f.ProcessCount()
	r.procsOK = fail("processes", err)
	r.cpus, err = f.OnlineCPUs()
	fail("cpu_online", err)
	r.bootID, err = f.BootID()
	fail("boot_id", err)
	r.hostname, _ = f.Hostname() // identity only: absence is not worth an error
	r.kernel, _ = f.OSRelease()
	r.duration = s.opts.Now().Sub(r.at)
	return r
}
