package sampler

import (
	"math"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// A figure is one source of the guest's figures, in a file of its own
// (cpu.go, memory.go, ...): it reads its kernel files, fills its part of
// the JSON document (whose fields wire.GuestMetrics defines, and whose
// encoding follows from their tags) and writes its Prometheus families
// under node_exporter's names. Adding a figure is adding such a file, its
// test, its field in wire.GuestMetrics and its line in docs/metrics.md. A
// figure that cannot read its source reports it and leaves its figures out;
// the rest of the sample stands.
type figure interface {
	// read takes a new reading, keeping the one before for windows; it
	// returns the sources it could not read.
	read(fs procfs.FS) []sourceErr
	// fill sets the figure's part of m from the newest reading and, when
	// w.ok, the window since the reading before.
	fill(m *wire.GuestMetrics, w window)
	// prom writes the figure's Prometheus families from the newest reading.
	prom(w *promtext.Writer)
}

// window is the time between the previous reading and this one; ok is
// false for the first sample and after a reboot, when counters restarted
// and no rate can be taken.
type window struct {
	d  time.Duration
	ok bool
}

// figures creates the figures of a Sampler, in the order their files
// register them (file name order).
var figures []func(o *Options) figure

// register adds a figure; each figure file calls it from init.
func register(f func(o *Options) figure) { figures = append(figures, f) }

// sourceErr records a source that could not be read in this sample.
type sourceErr struct {
	source string
	err    error
}

// failed returns the error of source as a one-element list, or nil.
func failed(source string, err error) []sourceErr {
	if err == nil {
		return nil
	}
	return []sourceErr{{source, err}}
}

// perSec is the rate of a counter over the window; a counter that went
// backwards (interface re-created, wrap, snapshot restore) gives 0 for
// this window, never a negative rate.
func perSec(prev, cur uint64, w window) float64 {
	if !w.ok || cur < prev || w.d <= 0 {
		return 0
	}
	return round2(float64(cur-prev) / w.d.Seconds())
}

func clampPercent(v float64) float64 {
	switch {
	case math.IsNaN(v) || v < 0:
		return 0
	case v > 100:
		return 100
	}
	return v
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// userHZ is the unit of /proc/stat's CPU times: USER_HZ is 100 on every
// architecture's user-space ABI.
const userHZ = 100
