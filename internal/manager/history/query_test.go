package history

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// twentyMinutes is a History started at t0 with 20 minutes of 1 s samples
// of VM "a" (CPU the minute's index), the clock at t0+20 min and all but the
// last minute written.
func twentyMinutes(t *testing.T, dbURL string) *History {
	t.Helper()
	st := openStore(t, dbURL, "a")
	c := newClock(t0)
	h := newHistory(t, st, c, 0)
	for i := range int64(20 * 60) {
		h.Add(guest("a", t0+i*1000, float64(i/60)))
	}
	c.set(t0 + 20*60_000)
	if err := h.flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if n := len(rollupsOf(t, st, "a")); n != 19 {
		t.Fatalf("%d minutes written, want 19", n)
	}
	return h
}

func TestQueryResolution(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dbURL string) {
		h := twentyMinutes(t, dbURL)
		ctx := context.Background()
		query := func(since, until, step int64) wire.History {
			t.Helper()
			q, err := h.Query(ctx, "a", since, until, step)
			if err != nil {
				t.Fatalf("Query(%d, %d, %d): %v", since, until, step, err)
			}
			return q
		}

		// Default: the last 5 minutes, raw.
		q := query(0, 0, 0)
		if q.Resolution != "raw" || q.SinceMs != t0+15*60_000 || q.UntilMs != t0+20*60_000 || q.StepMs != 0 || len(q.Points) != 300 {
			t.Fatalf("default query: %s %d–%d step %d, %d points", q.Resolution, q.SinceMs, q.UntilMs, q.StepMs, len(q.Points))
		}
		p := q.Points[0]
		if p.TimestampMs != t0+15*60_000 || p.Source != "guest" || p.Samples != 0 || val(p.CPUUsagePercent) != 15 ||
			val(p.NetTxBytesPerSec) != 200 || p.CPUUsagePercentMax != nil {
			t.Errorf("raw point %+v", p)
		}

		// Reaching back past the live window: rollups, the last one held
		// in memory.
		q = query(t0+2*60_000, t0+20*60_000, 0)
		if q.Resolution != "1m" || q.StepMs != 60_000 || len(q.Points) != 18 {
			t.Fatalf("1m query: %s step %d, %d points", q.Resolution, q.StepMs, len(q.Points))
		}
		for i, p := range q.Points {
			m := int64(i + 2)
			if p.TimestampMs != t0+m*60_000 || p.Samples != 60 || val(p.CPUUsagePercent) != float64(m) || val(p.CPUUsagePercentMax) != float64(m) {
				t.Errorf("minute %d: %+v", m, p)
			}
		}

		// A step within the live window buckets raw samples.
		q = query(t0+15*60_000, t0+20*60_000, 10_000)
		if q.Resolution != "raw" || q.StepMs != 10_000 || len(q.Points) != 30 || q.Points[0].Samples != 10 || q.Points[29].TimestampMs != t0+20*60_000-10_000 {
			t.Errorf("raw by 10 s: %s, %d points, first %+v", q.Resolution, len(q.Points), q.Points[0])
		}

		// A step above a minute buckets rollups, even within the window.
		q = query(t0+10*60_000, t0+20*60_000, 300_000)
		if q.Resolution != "1m" || len(q.Points) != 2 {
			t.Fatalf("5 min buckets: %s, %d points", q.Resolution, len(q.Points))
		}
		for i, p := range q.Points {
			m := float64(10 + 5*i) // minutes m..m+4: average m+2, maximum m+4
			if p.Samples != 300 || val(p.CPUUsagePercent) != m+2 || val(p.CPUUsagePercentMax) != m+4 || val(p.MemoryTotalKBMax) != 2048 {
				t.Errorf("bucket %d: %+v", i, p)
			}
		}

		// An unknown VM has no points, not null.
		if q = query(t0, t0+20*60_000, 0); q.Points == nil {
			t.Error("points are null")
		}
		if q, _ := h.Query(ctx, "nobody", t0, t0+20*60_000, 0); q.Points == nil || len(q.Points) != 0 {
			t.Errorf("unknown VM: %+v", q.Points)
		}
	})
}

func TestQueryValidation(t *testing.T) {
	now := t0 + 30*24*60*60_000
	c := newClock(now - 60*60_000) // started an hour ago: the live window is full
	h := New(Options{Now: c.Now, Retention: 7 * 24 * time.Hour})
	c.set(now)
	day := int64(24 * 60 * 60_000)
	tests := []struct {
		name               string
		since, until, step int64
		want               string
	}{
		{"negative since", -1, now, 0, "not negative"},
		{"negative until", now - 1000, -5, 0, "not negative"},
		{"negative step", now - 1000, now, -1, "step -1 ms is negative"},
		{"since after until", now, now - 1000, 0, "must be before until"},
		{"empty range", now, now, 0, "must be before until"},
		{"range beyond retention", now - 8*day - 1, now, 0, "longer than the 192h0m0s history is kept"},
		{"step above the range", now - 60_000, now, 60_001, "step 60001 ms is longer than the range"},
		{"too many minutes", now - 8*day, now, 0, "raise step to at least 70000 ms"},
		{"too many raw buckets", now - 5*60_000, now, 1, "raise step to at least 1000 ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Query(context.Background(), "a", tt.since, tt.until, tt.step)
			if !errors.Is(err, ErrBadRange) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrBadRange saying %q", err, tt.want)
			}
		})
	}
}

// TestQueryTooManySamples: raw samples beyond MaxPoints ask for a step,
// and the step named fits.
func TestQueryTooManySamples(t *testing.T) {
	c := newClock(t0)
	h := New(Options{Now: c.Now})
	for i := range int64(MaxPoints + 1) {
		h.Add(guest("a", t0+i*10, 1))
	}
	c.set(t0 + 5*60_000)
	_, err := h.Query(context.Background(), "a", t0, t0+5*60_000, 0)
	if !errors.Is(err, ErrBadRange) {
		t.Fatalf("error %v, want ErrBadRange", err)
	}
	m := regexp.MustCompile(`raise step to at least (\d+) ms`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("error %q names no step", err)
	}
	step, _ := strconv.ParseInt(m[1], 10, 64)
	q, err := h.Query(context.Background(), "a", t0, t0+5*60_000, step)
	if err != nil || len(q.Points) > MaxPoints || q.Points[0].Samples == 0 {
		t.Errorf("with the step named (%d ms): %v, %d points", step, err, len(q.Points))
	}
}

func TestHistoryJSON(t *testing.T) {
	b, _ := json.Marshal(wire.History{VMID: "a", Resolution: "raw", Points: []wire.HistoryPoint{}})
	if got, want := string(b), `{"vm_id":"a","since_ms":0,"until_ms":0,"step_ms":0,"resolution":"raw","points":[]}`; got != want {
		t.Errorf("empty history:\n got %s\nwant %s", got, want)
	}
	var a agg
	r := readingOf(&wire.CombinedSample{Source: "host", CPUUsagePercent: f64(150)})
	a.addReading(&r)
	b, _ = json.Marshal(a.point(t0))
	if got, want := string(b), `{"timestamp_ms":1741064400000,"source":"host","memory_source":"host","samples":1,"source_samples":1,"memory_source_samples":1,"cpu_usage_percent":150,"cpu_usage_percent_max":150}`; got != want {
		t.Errorf("point:\n got %s\nwant %s", got, want)
	}
}
