package cgroup

import (
	"context"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/tick"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// membershipEvery is how many rounds a process's cgroup is trusted before
// /proc/PID/cgroup is read again: every round, as a process may be moved
// (a launcher that places the VMM after starting it), and the read is one
// small file beside the dozen of the cgroup.
const membershipEvery = 1

// fullEvery is how many rounds pass between full reads: the others read
// only the counters that move every second (FS.read with the last
// reading), and carry the
// quota, limits, memory.stat, I/O and pressure of the last full read — at
// most fullEvery intervals old. A new cgroup is read in full at once.
const fullEvery = 10

// Tracker reads the cgroups of the processes it tracks every interval, so
// that a request is answered from readings already taken.
type Tracker struct {
	fs       FS
	interval time.Duration

	mu   sync.Mutex
	pids map[int]*entry
}

type entry struct {
	refs   int
	member Membership
	rounds int // since member was read
	// full is the membership of the last full read; sinceFull the reads
	// since it.
	full      Membership
	sinceFull int
	prev      Reading
	last      Reading
	n         int // readings in this epoch
	epoch     uint64
	err       error
}

// NewTracker returns a Tracker reading through fs every interval.
func NewTracker(fs FS, interval time.Duration) *Tracker {
	return &Tracker{fs: fs, interval: interval, pids: map[int]*entry{}}
}

// Run reads every interval until ctx ends.
func (t *Tracker) Run(ctx context.Context) { tick.Every(ctx, t.interval, t.ReadAll) }

// Acquire tracks pid's cgroup for one referrer, reading it now.
func (t *Tracker) Acquire(pid int) {
	t.mu.Lock()
	e := t.pids[pid]
	if e == nil {
		e = &entry{rounds: membershipEvery}
		t.pids[pid] = e
	}
	e.refs++
	first := e.refs == 1
	t.mu.Unlock()
	if first {
		t.read(pid, e)
	}
}

// Release drops one reference; the last one stops tracking.
func (t *Tracker) Release(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.pids[pid]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(t.pids, pid)
		}
	}
}

// ReadAll reads every tracked cgroup once, outside the lock.
func (t *Tracker) ReadAll() {
	t.mu.Lock()
	pids := make([]int, 0, len(t.pids))
	es := make([]*entry, 0, len(t.pids))
	for pid, e := range t.pids {
		pids, es = append(pids, pid), append(es, e)
	}
	t.mu.Unlock()
	for i, pid := range pids {
		t.read(pid, es[i])
	}
}

func (t *Tracker) read(pid int, e *entry) {
	t.mu.Lock()
	member, stale := e.member, e.rounds >= membershipEvery
	var prev *Reading
	if e.n > 0 && e.sinceFull < fullEvery-1 {
		p := e.last
		prev = &p
	}
	full := e.full
	t.mu.Unlock()
	var err error
	if stale {
		if member, err = t.fs.Membership(pid); err != nil {
			t.mu.Lock()
			e.err = err
			t.mu.Unlock()
			return
		}
	}
	if prev != nil && !member.equal(full) {
		prev = nil // moved: read its new cgroup in full
	}
	r, err := t.fs.read(member, prev)
	t.mu.Lock()
	defer t.mu.Unlock()
	if stale {
		e.member, e.rounds = member, 0
	}
	e.rounds++
	e.err = err
	if err != nil && r.Version == 0 {
		return
	}
	if prev == nil {
		e.full, e.sinceFull = member, 0
	} else {
		e.sinceFull++
	}
	e.observe(r)
}

// observe takes a reading: one whose counters went back, or of another
// cgroup, starts a new epoch; none spans the jump.
func (e *entry) observe(r Reading) {
	if e.n > 0 && (r.Path != e.last.Path || r.Version != e.last.Version || backwards(e.last, r)) {
		e.epoch++
		e.n = 0
	}
	e.prev, e.last = e.last, r
	e.n++
}

func backwards(a, b Reading) bool {
	return b.CPUUsageUs < a.CPUUsageUs || b.Periods < a.Periods || b.Throttled < a.Throttled ||
		b.ThrottledUs < a.ThrottledUs || b.EventMax < a.EventMax || b.EventOOMKill < a.EventOOMKill
}

// Final reads pid's cgroup once more through the membership last read
// (the process may be gone; its cgroup stays until its launcher removes
// it) and returns it: what the cgroup said as the VMM ended.
func (t *Tracker) Final(pid int) (*wire.CgroupStats, error) {
	t.mu.Lock()
	e := t.pids[pid]
	if e == nil {
		t.mu.Unlock()
		return nil, nil
	}
	e.rounds = 0 // the membership stands: /proc/PID is gone
	if e.n > 0 {
		// The cgroup last read, not the membership last seen: a dying
		// process's /proc/PID/cgroup already names the root on v1 (the
		// kernel moves an exiting task there), and a round that read it
		// then would leave the process's end unread.
		e.member = e.full
	}
	t.mu.Unlock()
	t.read(pid, e)
	return t.Stats(pid)
}

// Stats returns the cgroup of pid as last read; false when pid is not
// tracked or its cgroup was never read (err says why).
func (t *Tracker) Stats(pid int) (*wire.CgroupStats, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.pids[pid]
	if e == nil {
		return nil, nil
	}
	if e.n == 0 {
		return nil, e.err
	}
	st := stats(e.last)
	st.Epoch = e.epoch
	if e.n >= 2 {
		window(st, e.prev, e.last)
	}
	return st, e.err
}

func stats(r Reading) *wire.CgroupStats {
	st := &wire.CgroupStats{Version: r.Version, Path: r.Path,
		CPUUsageSeconds: us(r.CPUUsageUs), CPUUserSeconds: us(r.CPUUserUs), CPUSystemSeconds: us(r.CPUSystemUs),
		CPUPeriods: r.Periods, CPUThrottledPeriods: r.Throttled, CPUThrottledSeconds: us(r.ThrottledUs),
		MemoryCurrentBytes: r.MemCurrent, MemoryAnonBytes: r.Anon, MemoryFileBytes: r.File,
		MemoryEvents: wire.CgroupMemoryEvents{High: r.EventHigh, Max: r.EventMax, OOM: r.EventOOM, OOMKill: r.EventOOMKill}}
	if r.PeriodUs > 0 {
		st.CPUPeriodUs = r.PeriodUs
		if r.Quota {
			c := float64(r.QuotaUs) / float64(r.PeriodUs)
			st.CPUQuotaCores = &c
		}
	}
	if r.HasPeak {
		p := r.MemPeak
		st.MemoryPeakBytes = &p
	}
	if r.Limited {
		l := r.MemLimit
		st.MemoryLimitBytes = &l
	}
	if r.HighSet {
		h := r.MemHigh
		st.MemoryHighBytes = &h
	}
	for _, d := range r.IO {
		st.IO = append(st.IO, wire.CgroupIO{Device: d.Device, ReadBytes: d.ReadBytes, WriteBytes: d.WriteBytes, ReadOps: d.ReadOps, WriteOps: d.WriteOps})
	}
	for name, p := range map[string]*PSI{"cpu": r.CPUPressure, "memory": r.MemoryPressure, "io": r.IOPressure} {
		if p == nil {
			continue
		}
		if st.Pressure == nil {
			st.Pressure = map[string]wire.CgroupPressure{}
		}
		cp := wire.CgroupPressure{SomeAvg10: p.SomeAvg10, SomeTotalSeconds: us(p.SomeTotalUs)}
		if p.HasFull {
			a, tot := p.FullAvg10, us(p.FullTotalUs)
			cp.FullAvg10, cp.FullTotalSeconds = &a, &tot
		}
		st.Pressure[name] = cp
	}
	return st
}

// window fills the rates between two readings of one epoch.
func window(st *wire.CgroupStats, a, b Reading) {
	d := b.At.Sub(a.At)
	if d <= 0 {
		return
	}
	st.WindowMs = d.Milliseconds()
	st.CPUUsagePercent = round2(100 * float64(b.CPUUsageUs-a.CPUUsageUs) / float64(d.Microseconds()))
	if periods := b.Periods - a.Periods; periods > 0 {
		st.ThrottledPercent = round2(100 * float64(b.Throttled-a.Throttled) / float64(periods))
	}
}

func us(v uint64) float64 { return float64(v) / 1e6 }

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
