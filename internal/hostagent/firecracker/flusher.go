package firecracker

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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
	// Lost counts calls Firecracker refused because it could not write the
	// line (its output full: "Failed to write metrics"): lines lost, which
	// Firecracker itself does not count in missed_metrics_count.
	Lost uint64
}

// Flusher requests FlushMetrics every interval so that the metrics lines,
// which Firecracker otherwise writes once a minute, carry fresh figures.
// It has no goroutine of its own: the loop that polls the VM calls Flush
// each round, and Flush calls Firecracker when a call is due. Failures
// never stop it: it records them and backs off.
type Flusher struct {
	client   *Client
	interval time.Duration
	log      *slog.Logger

	mu       sync.Mutex
	st       FlushStatus
	failures int       // consecutive
	next     time.Time // when the next call is due; zero: at once
}

// NewFlusher returns a Flusher calling client every interval, logging
// changes between working and failing to log (nil means no logging).
func NewFlusher(client *Client, interval time.Duration, log *slog.Logger) *Flusher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Flusher{client: client, interval: interval, log: log}
}

// Status returns a copy of the current status.
func (f *Flusher) Status() FlushStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

// Flush requests FlushMetrics if a call is due at now: the first call at
// once, then one per interval (a little early counts, so that a loop
// running every interval calls every time), and while calls fail, after
// the backoff. A call cancelled through ctx is not recorded. The client
// stays open: it may serve others; its owner closes it.
func (f *Flusher) Flush(ctx context.Context, now time.Time) {
	f.mu.Lock()
	due := !now.Before(f.next)
	f.mu.Unlock()
	if !due {
		return
	}
	err := f.client.FlushMetrics(ctx)
	if ctx.Err() != nil && err != nil {
		return
	}
	f.mu.Lock()
	f.failures = f.record(err, f.failures)
	// A tenth of the interval early, so jitter in the caller's loop does
	// not skip a round.
	f.next = now.Add(f.pause(f.failures) - f.interval/10)
	f.mu.Unlock()
}

// record stores the outcome of a call and returns the new count of
// consecutive failures, logging only transitions so a dead VMM does not
// flood the log.
// f.mu is held.
func (f *Flusher) record(err error, failures int) int {
	now := time.Now()
	f.st.Requests++
	if err == nil {
		f.st.LastSuccess, f.st.LastError = now, ""
	} else {
		f.st.Failures++
		f.st.LastError, f.st.LastErrorAt = err.Error(), now
		var ae *APIError
		if errors.As(err, &ae) && strings.Contains(ae.Fault, "Failed to write metrics") {
			f.st.Lost++
		}
	}
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
