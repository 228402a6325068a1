package vmtable

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/procstat"
)

// exitKeep is how long an exit stays in GET /v1/samples: long enough for
// a manager that missed a few rounds to read it.
const exitKeep = 5 * time.Minute

// exitLog keeps how processes ended (the kernel's process events), which
// the OOM killer killed (the kernel's log), and which discovered VMs left
// because their process ended, for the exits of GET /v1/samples and the
// reason of the manager's vmm_exit event.
type exitLog struct {
	mu       sync.Mutex
	byPID    map[int]procstat.Exit
	oom      map[int]procstat.OOMKill
	departed []wire.VMExit
}

// watchExits feeds the log from the kernel until ctx ends. Without the
// process events (not root), exits are still reported, without a reason.
func (a *Table) watchExits(ctx context.Context) {
	ch, err := procstat.WatchExits(ctx)
	if err != nil {
		a.log.Warn("the kernel's process events are unavailable: VMM exits are reported without their reason", "err", err)
		return
	}
	for e := range ch {
		a.exits.add(e)
	}
}

// watchOOMKills feeds the log the OOM killer's kills from the kernel's log
// until ctx ends. Without it (not root), a VMM the OOM killer ended is
// "killed by SIGKILL".
func (a *Table) watchOOMKills(ctx context.Context) {
	ch, err := procstat.WatchOOMKills(ctx, a.opt.KernelLog)
	if err != nil {
		a.log.Warn("the kernel's log is unreadable: a VMM the OOM killer ends is reported as killed by SIGKILL", "err", err)
		return
	}
	for k := range ch {
		a.exits.addOOM(k)
	}
}

// addOOM records a kill; the kernel logs two records of one (the
// constraint, then the kill), merged here.
func (l *exitLog) addOOM(k procstat.OOMKill) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.oom == nil {
		l.oom = map[int]procstat.OOMKill{}
	}
	if prev, ok := l.oom[k.PID]; ok && k.At.Sub(prev.At) < time.Minute {
		if k.Constraint == "" {
			k.Constraint = prev.Constraint
		}
		if k.Comm == "" {
			k.Comm = prev.Comm
		}
	}
	l.oom[k.PID] = k
	if len(l.oom) > 1024 {
		for pid, x := range l.oom {
			if k.At.Sub(x.At) > time.Minute {
				delete(l.oom, pid)
			}
		}
	}
}

func (l *exitLog) add(e procstat.Exit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byPID == nil {
		l.byPID = map[int]procstat.Exit{}
	}
	l.byPID[e.PID] = e
	if len(l.byPID) > 4096 { // a busy host: drop what is too old to match
		for pid, x := range l.byPID {
			if e.At.Sub(x.At) > time.Minute {
				delete(l.byPID, pid)
			}
		}
	}
}

// depart records that VM id left because its process pid ended; fatal is
// what the VMM recorded as it died, "" for nothing.
func (l *exitLog) depart(id string, pid int, at time.Time, fatal string, cg *wire.CgroupStats) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := wire.VMExit{ID: id, PID: pid, AtMs: at.UnixMilli(), Fatal: fatal}
	if cg != nil {
		n := cg.MemoryEvents.OOMKill
		d.CgroupOOMKills, d.CgroupMemoryLimitBytes = &n, cg.MemoryLimitBytes
	}
	l.departed = append(l.departed, d)
}

// list returns the departures of the last exitKeep, each with its reason
// once the kernel's word on its process has come (within a minute of it).
func (l *exitLog) list(now time.Time) []wire.VMExit {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := keepRecent(l.departed, func(d wire.VMExit) int64 { return d.AtMs }, now)
	l.departed = keep
	if len(keep) == 0 {
		return nil
	}
	near := func(at time.Time, d *wire.VMExit) bool {
		gap := at.Sub(time.UnixMilli(d.AtMs))
		return gap < time.Minute && gap > -time.Minute
	}
	for i := range keep {
		d := &keep[i]
		if d.Reason != "" {
			continue
		}
		e, exited := l.byPID[d.PID]
		exited = exited && near(e.At, d)
		// The OOM killer's word counts when the process died of SIGKILL,
		// or when the process events are not heard at all.
		if k, ok := l.oom[d.PID]; ok && near(k.At, d) && (!exited || e.Signal == int(syscall.SIGKILL)) {
			d.Reason = k.Reason()
			delete(l.oom, d.PID)
		} else if exited {
			d.Reason = e.Reason()
		}
		if exited {
			delete(l.byPID, d.PID) // bound to this departure; a reused pid is another process
		}
	}
	out := append([]wire.VMExit(nil), keep...)
	for i := range out {
		switch d := &out[i]; {
		case d.Fatal == "":
		case d.Reason == "":
			d.Reason = d.Fatal
		default:
			d.Reason += ": " + d.Fatal
		}
	}
	return out
}

// keepRecent drops, in place, the records of list older than exitKeep at
// now (at gives a record's time, Unix ms), and returns what is left.
func keepRecent[T any](list []T, at func(T) int64, now time.Time) []T {
	keep := list[:0]
	for _, x := range list {
		if now.Sub(time.UnixMilli(at(x))) <= exitKeep {
			keep = append(keep, x)
		}
	}
	return keep
}
