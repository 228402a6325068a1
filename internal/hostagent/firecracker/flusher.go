package firecracker

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// MaxFlushBackoff caps the pause between FlushMetrics attempts while they
// fail: long enough not to hammer a VMM that is gone, short enough that
// fresh figures return soon after a VM finishes booting (Firecracker
// refuses FlushMetrics before boot).
const MaxFlushBackoff = 5 * time.Second

// FlushStatus describes a Flusher's calls so far.
type FlushStatus struct {
	Requests    uint64    // calls made
	Failures    uint64    // calls that failed
	LastSuccess time.Time // zero before the first success
	LastError   string    // error of the latest call; empty when it succeeded
	LastErrorAt time.Time
}

// Flusher requests FlushMetrics every interval so that the metrics lines,
// which Firecracker otherwise writes once a minute, carry fresh figures.
// Failures never stop it: it records them, backs off and retries.
type Flusher struct {
	client   *Client
	interval time.Duration
	log      *slog.Logger
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once

	mu sync.Mutex
	st FlushStatus
}

// NewFlusher returns a Flusher calling client every interval, logging
// changes between working and failing to log (nil means no logging).
func NewFlusher(client *Client, interval time.Duration, log *slog.Logger) *Flusher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Flusher{client: client, interval: interval, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the loop in a goroutine of its own; the first call is made at
// once.
func (f *Flusher) Start() { go f.run() }

// Close stops the loop and waits for it (an in-flight call is cancelled).
// The client stays open: it may serve others; its owner closes it. Call it
// once, after Start.
func (f *Flusher) Close() {
	f.once.Do(func() {
		close(f.stop)
		<-f.done
	})
}

// Status returns a copy of the current status.
func (f *Flusher) Status() FlushStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *Flusher) run() {
	defer close(f.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-f.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	failures := 0
	for {
		err := f.client.FlushMetrics(ctx)
		if ctx.Err() != nil {
			return
		}
		failures = f.record(err, failures)
		t := time.NewTimer(f.pause(failures))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// record stores the outcome of a call and returns the new count of
// consecutive failures, logging only transitions so a dead VMM does not
// flood the log.
func (f *Flusher) record(err error, failures int) int {
	now := time.Now()
	f.mu.Lock()
	f.st.Requests++
	if err == nil {
		f.st.LastSuccess, f.st.LastError = now, ""
	} else {
		f.st.Failures++
		f.st.LastError, f.st.LastErrorAt = err.Error(), now
	}
	f.mu.Unlock()
	switch {
	case err != nil && failures == 0:
		f.log.Warn("FlushMetrics failing; retrying with backoff", "socket", f.client.Socket(), "err", err)
	case err == nil && failures > 0:
		f.log.Info("FlushMetrics working again", "socket", f.client.Socket(), "after_failures", failures)
	}
	if err != nil {
		return failures + 1
	}
	return 0
}

// pause doubles the interval with each consecutive failure, up to
// MaxFlushBackoff (or the interval, if that is longer).
func (f *Flusher) pause(failures int) time.Duration {
	d := f.interval
	for i := 1; i < failures && d < MaxFlushBackoff; i++ {
		d *= 2
	}
	if d > MaxFlushBackoff && f.interval <= MaxFlushBackoff {
		d = MaxFlushBackoff
	}
	return d
}
