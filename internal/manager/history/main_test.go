package history

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
	"github.com/fcmon/fcmon/internal/testsupport/pgtest"
)

// pg is the PostgreSQL server the store-backed tests also run on (see pgtest).
var pg *pgtest.Server

func TestMain(m *testing.M) {
	var err error
	if pg, err = pgtest.Start("history tests"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

// backends name the databases the store-backed tests run on; each returns
// the URL of a fresh, empty database for one test.
var backends = []struct {
	name   string
	newURL func(t *testing.T) string
}{
	{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "h.db") }},
	{"postgres", newPostgresURL},
}

func newPostgresURL(t *testing.T) string { return pg.NewSchema(t) }

// forEachBackend runs fn as a subtest on every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.newURL(t)) })
	}
}

// openStore opens dbURL, registers the VMs and closes the store when the
// test ends.
func openStore(t *testing.T, dbURL string, vmIDs ...string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	for _, id := range vmIDs {
		if _, err := st.CreateVM(context.Background(), store.VM{ID: id, Name: id}); err != nil {
			t.Fatalf("CreateVM %s: %v", id, err)
		}
	}
	return st
}

// t0 is an hour boundary the tests' clocks start at.
var t0 = time.Date(2025, 3, 4, 5, 0, 0, 0, time.UTC).UnixMilli()

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	ms int64
}

func newClock(ms int64) *clock { return &clock{ms: ms} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.UnixMilli(c.ms)
}

func (c *clock) set(ms int64) {
	c.mu.Lock()
	c.ms = ms
	c.mu.Unlock()
}

// newHistory is a History on st with the clock, logging to the test.
func newHistory(t *testing.T, st store.Store, c *clock, retention time.Duration) *History {
	return New(Options{Store: st, Now: c.Now, Retention: retention, Logger: testLogger(t)})
}

func f64(v float64) *float64  { return &v }
func u64(v uint64) *uint64    { return &v }
func f64p(v float64) *float64 { return &v }

// guest is a guest-sourced sample with every figure.
func guest(vm string, ts int64, cpu float64) wire.CombinedSample {
	return wire.CombinedSample{
		VMID: vm, TimestampMs: ts, Source: wire.SourceGuest,
		CPUUsagePercent: f64(cpu), MemoryUsagePercent: f64(50), MemoryUsedKB: u64(1024), MemoryTotalKB: u64(2048),
		Network: &wire.NetworkRates{RxBytesPerSec: 100, TxBytesPerSec: 200, Source: wire.RatesFirecracker},
		Disk:    &wire.DiskRates{ReadBytesPerSec: 300, WriteBytesPerSec: 400, Source: wire.RatesFirecracker},
	}
}

// host is a host-sourced sample: CPU and used memory only.
func host(vm string, ts int64, cpu float64) wire.CombinedSample {
	return wire.CombinedSample{VMID: vm, TimestampMs: ts, Source: wire.SourceHost,
		CPUUsagePercent: f64(cpu), MemoryUsedKB: u64(4096)}
}

// rollupsOf reads vm's stored rollups over all time.
func rollupsOf(t *testing.T, st store.Store, vm string) []store.Rollup {
	t.Helper()
	rs, err := st.Rollups(context.Background(), vm, 0, 1<<62)
	if err != nil {
		t.Fatalf("Rollups: %v", err)
	}
	return rs
}

// val reads an optional figure, NaN-free: -1 for absent.
func val(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// testLogger logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}
