package vmtable

import (
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// maxClashes bounds the clashes kept: a process that keeps reporting
// others' ids cannot grow the document without end.
const maxClashes = 1000

// clashLog keeps the id clashes of the last exitKeep for GET /v1/samples,
// where the manager makes id_clash events of them, and counts them all.
type clashLog struct {
	mu    sync.Mutex
	list  []wire.IDClash
	total uint64
}

func (l *clashLog) add(c wire.IDClash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if len(l.list) >= maxClashes {
		l.list = append(l.list[:0], l.list[1:]...)
	}
	l.list = append(l.list, c)
}

// recent returns the clashes of the last exitKeep, oldest first.
func (l *clashLog) recent(now time.Time) []wire.IDClash {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := keepRecent(l.list, func(c wire.IDClash) int64 { return c.AtMs }, now)
	l.list = keep
	if len(keep) == 0 {
		return nil
	}
	return append([]wire.IDClash(nil), keep...)
}

func (l *clashLog) count() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
