package firecracker

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// Kinds of metrics output a MetricsReader reads.
const (
	KindFIFO = vmpath.KindFIFO // a named pipe: the setup Firecracker's docs ask for
	KindFile = vmpath.KindFile // a regular file Firecracker created itself: tailed
)

// FilePollInterval is how often a MetricsReader looks for new lines in a
// regular file, which, unlike a pipe, cannot wake a reader when written.
const FilePollInterval = 500 * time.Millisecond

// MetricsReader reads one VM's metrics lines continuously and keeps their
// totals. Create it with NewMetricsReader, start it with Start, stop it with
// Close; Snapshot may be called at any time from any goroutine.
type MetricsReader struct {
	path    string
	kind    string
	created bool
	key     vmpath.FileKey
	f       *os.File
	split   *Splitter
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started atomic.Bool
	// notBeforeMs: lines of a regular file older than this (Unix ms) are
	// an earlier run's.
	notBeforeMs int64

	mu       sync.Mutex
	acc      *Accumulator
	lastRead time.Time // host time of the newest decoded line
	err      error     // last read error, cleared by a successful read
}

// NewMetricsReader reads the metrics output m, which vmpath opened and
// checked (a FIFO read-write and non-blocking, so it never sees
// end-of-file when Firecracker closes, restarts or has not started yet; a
// regular file read-only, tailed from its start, taking only the lines of
// the run that started at notBefore — zero when unknown — as runFile
// says). The reader owns m.File.
func NewMetricsReader(m vmpath.MetricsFile, notBefore time.Time) *MetricsReader {
	var nb int64
	if !notBefore.IsZero() {
		nb = notBefore.UnixMilli()
	}
	return &MetricsReader{
		path: m.File.Name(), kind: m.Kind, created: m.Created, key: m.Key, f: m.File, notBeforeMs: nb,
		split: NewSplitter(MaxLineBytes), acc: NewAccumulator(),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// Path returns the path the reader reads.
func (r *MetricsReader) Path() string { return r.path }

// Kind returns KindFIFO or KindFile.
func (r *MetricsReader) Kind() string { return r.kind }

// Created reports whether the agent created the FIFO.
func (r *MetricsReader) Created() bool { return r.created }

// Key is the identity of the file read, whatever path reached it.
func (r *MetricsReader) Key() vmpath.FileKey { return r.key }

// Start starts reading in a goroutine of its own.
func (r *MetricsReader) Start() {
	r.started.Store(true)
	go r.run()
}

// Close stops the reader and waits for its goroutine, which returns at once:
// closing the descriptor wakes a read blocked in the runtime's poller. Close
// is idempotent and safe to call without Start, but not concurrently with
// Start.
func (r *MetricsReader) Close() error {
	var err error
	r.once.Do(func() {
		close(r.stop)
		err = r.f.Close()
		if r.started.Load() {
			<-r.done
		}
	})
	return err
}

// Snapshot returns the totals so far, the host time of the newest decoded
// line (zero before the first) and the last read error, if any.
func (r *MetricsReader) Snapshot() (t Totals, lastRead time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acc.Snapshot(), r.lastRead, r.err
}

// readBufs are the buffers reads of FIFOs go into: a FIFO reader takes one
// only once its pipe is readable, so a thousand idle readers hold none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

func (r *MetricsReader) run() {
	defer close(r.done)
	if r.kind == KindFIFO {
		r.runFIFO()
		return
	}
	r.runFile()
}

// runFIFO reads a FIFO as it becomes readable, into a pooled buffer.
func (r *MetricsReader) runFIFO() {
	rc, err := r.f.SyscallConn()
	if err != nil {
		r.setErr(err)
		return
	}
	for {
		var readErr error
		err := rc.Read(func(fd uintptr) bool {
			bp := readBufs.Get().(*[]byte)
			defer readBufs.Put(bp)
			n, err := syscall.Read(int(fd), *bp)
			if errors.Is(err, syscall.EAGAIN) {
				return false // wait until readable
			}
			if errors.Is(err, syscall.EINTR) {
				return true
			}
			if n > 0 {
				r.consume((*bp)[:n])
			}
			readErr = err
			return true
		})
		select {
		case <-r.stop:
			return
		default:
		}
		if err == nil {
			err = readErr
		}
		// A FIFO opened read-write has no end-of-file; any error is
		// unexpected, so report it and retry rather than spin.
		r.setErr(err)
		if err != nil && !r.wait() {
			return
		}
	}
}

// wait pauses between polls of a regular file; false means stop.
func (r *MetricsReader) wait() bool {
	t := time.NewTimer(FilePollInterval)
	defer t.Stop()
	select {
	case <-r.stop:
		return false
	case <-t.C:
		return true
	}
}

// take adds a decoded line, and the bad lines before it, to the totals.
func (r *MetricsReader) take(line Line, bad, long uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acc.AddBad(bad, long)
	r.acc.Add(line)
	r.lastRead = time.Now()
}

func (r *MetricsReader) setErr(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

// consume splits data into lines and adds each to the totals. A line that
// does not decode may still end in a whole line glued behind a fragment of
// a failed one; that line is recovered and the fragment counted as bad.
func (r *MetricsReader) consume(data []byte) {
	longBefore := r.split.LongLines()
	r.split.Feed(data, func(b []byte) {
		line, err := DecodeLine(b)
		bad := uint64(0)
		if err != nil {
			bad = 1
			if tail, ok := Recover(b); ok {
				line, err = DecodeLine(tail)
			}
		}
		if err != nil {
			r.mu.Lock()
			r.acc.AddBad(bad, 0)
			r.mu.Unlock()
			return
		}
		r.take(line, bad, 0)
	})
	if long := r.split.LongLines() - longBefore; long > 0 {
		r.mu.Lock()
		r.acc.AddBad(long, long)
		r.mu.Unlock()
	}
}
