package hostagent

import (
	"context"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/procstat"
)

// exitKeep is how long an exit stays in GET /v1/samples: long enough for
// a manager that missed a few rounds to read it.
const exitKeep = 5 * time.Minute

// exitLog keeps how processes ended (the kernel's process events) and
// which discovered VMs left because their process ended, for the exits
// of GET /v1/samples and the reason of the manager's vmm_exit event.
type exitLog struct {
	mu       sync.Mutex
	byPID    map[int]procstat.Exit
	departed []wire.VMExit
}

// watchExits feeds the log from the kernel until ctx ends. Without the
// process events (not root), exits are still reported, without a reason.
func (a *Agent) watchExits(ctx context.Context) {
	ch, err := procstat.WatchExits(ctx)
	if err != nil {
		a.log.Warn("the kernel's process events are unavailable: VMM exits are reported without their reason", "err", err)
		return
	}
	for e := range ch {
		a.exits.add(e)
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

// depart records that VM id left because its process pid ended.
func (l *exitLog) depart(id string, pid int, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.departed = append(l.departed, wire.VMExit{ID: id, PID: pid, AtMs: at.UnixMilli()})
}

// list returns the departures of the last exitKeep, each with its reason
// once the kernel's word on its process has come (within a minute of it).
func (l *exitLog) list(now time.Time) []wire.VMExit {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := l.departed[:0]
	for _, d := range l.departed {
		if now.Sub(time.UnixMilli(d.AtMs)) <= exitKeep {
			keep = append(keep, d)
		}
	}
	l.departed = keep
	if len(keep) == 0 {
		return nil
	}
	for i := range keep {
		d := &keep[i]
		if e, ok := l.byPID[d.PID]; ok && d.Reason == "" {
			if gap := e.At.Sub(time.UnixMilli(d.AtMs)); gap < time.Minute && gap > -time.Minute {
				d.Reason = e.Reason()
				delete(l.byPID, d.PID) // bound to this departure; a reused pid is another process
			}
		}
	}
	return append([]wire.VMExit(nil), keep...)
}
