package firecracker

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
)

// run is one Firecracker run of the stand-in on a metrics file, whose
// eth0 has received step bytes more at each metrics line.
type run struct {
	vm    *fcstandin.VM
	api   *Client
	calls atomic.Uint64
	step  uint64
}

func startRun(t *testing.T, dir, path string, step uint64) *run {
	t.Helper()
	r := &run{step: step}
	sock := filepath.Join(dir, "api.sock")
	os.Remove(sock)
	vm, err := fcstandin.Start(fcstandin.Config{ID: "re", Metrics: &fcstandin.Metrics{MetricsPath: path},
		Network: []fcstandin.NetworkInterface{{IfaceID: "eth0", HostDevName: "tap0"}}},
		fcstandin.Options{APISock: sock, Running: true, Sources: fcstandin.Sources{Counters: func() fcstandin.Counters {
			n := r.calls.Add(1)
			return fcstandin.Counters{Net: map[string]fcstandin.NetCounters{"eth0": {RxBytes: n * r.step}}}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	r.vm, r.api = vm, NewClient(sock, Unix(sock), time.Second)
	return r
}

// flush asks for n lines.
func (r *run) flush(t *testing.T, n int) {
	t.Helper()
	for range n {
		if err := r.api.FlushMetrics(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// rx is the eth0 bytes of every line written in this run so far.
func (r *run) rx() uint64 { return r.calls.Load() * r.step }

func fileReader(t *testing.T, path string, notBefore time.Time) *MetricsReader {
	t.Helper()
	m, err := vmpath.Host([]string{filepath.Dir(path)}, vmpath.AnyOwner).OpenMetrics(path, false)
	if err != nil {
		t.Fatal(err)
	}
	r := NewMetricsReader(m, notBefore)
	r.Start()
	t.Cleanup(func() { r.Close() })
	return r
}

// TestReusedFileReadsOnlyThisRun: a VM started again on its old metrics
// file writes over the old run's lines from offset 0 and leaves their tail;
// the reader adds the new run's lines only, once each, and keeps reading
// where the VM writes next.
func TestReusedFileReadsOnlyThisRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.json")
	old := startRun(t, dir, path, 1000)
	old.flush(t, 30)
	old.vm.Close()
	oldSize := fileSize(t, path)

	time.Sleep(20 * time.Millisecond)
	since := time.Now()
	cur := startRun(t, dir, path, 7)
	defer cur.vm.Close()
	cur.flush(t, 3)
	if fileSize(t, path) != oldSize {
		t.Fatalf("the new run did not write over the old one (%d bytes, were %d)", fileSize(t, path), oldSize)
	}
	r := fileReader(t, path, since)
	want := func(what string) {
		t.Helper()
		eventually(t, 5*time.Second, what, func() bool {
			got, _, _ := r.Snapshot()
			return got.Lines == cur.calls.Load() && got.NetAll != nil && got.NetAll.RxBytes == cur.rx()
		})
		time.Sleep(2 * FilePollInterval) // nothing more comes
		got, _, _ := r.Snapshot()
		if got.Lines != cur.calls.Load() || got.NetAll.RxBytes != cur.rx() || got.BadLines != 0 {
			t.Fatalf("%s: %d lines (%d bad), %d bytes; this run wrote %d lines, %d bytes",
				what, got.Lines, got.BadLines, got.NetAll.RxBytes, cur.calls.Load(), cur.rx())
		}
	}
	want("the new run's first lines")
	cur.flush(t, 5)
	want("the new run's next lines, written over the old ones")
	cur.flush(t, 60) // beyond the old run's end
	if fileSize(t, path) <= oldSize {
		t.Fatal("the new run did not pass the old one's end")
	}
	want("the new run past the old one's end")
}

// TestReusedFileBeforeTheRunWrites: a reader that starts before the new
// run's first line finds only old lines, and takes none of them.
func TestReusedFileBeforeTheRunWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.json")
	old := startRun(t, dir, path, 1000)
	old.flush(t, 10)
	old.vm.Close()
	r := fileReader(t, path, time.Now())
	time.Sleep(2 * FilePollInterval)
	if got, _, _ := r.Snapshot(); got.Lines != 0 || got.BadLines != 0 {
		t.Fatalf("an old run's lines were taken: %+v", got)
	}
	cur := startRun(t, dir, path, 7)
	defer cur.vm.Close()
	cur.flush(t, 2)
	eventually(t, 5*time.Second, "the new run's lines", func() bool {
		got, _, _ := r.Snapshot()
		return got.Lines == cur.calls.Load() && got.NetAll != nil && got.NetAll.RxBytes == cur.rx()
	})
}

// TestFileClockSteppedBack: a line older than the one before it, written
// past the file's end, is this run's (the host's clock stepped back), and
// taken once the file has grown past it.
func TestFileClockSteppedBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.json")
	if err := os.WriteFile(path, nl(newLine(t, 50_000).bytes()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := fileReader(t, path, time.Time{})
	eventually(t, 5*time.Second, "the first line", func() bool { got, _, _ := r.Snapshot(); return got.Lines == 1 })
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write(t, f, nl(newLine(t, 40_000).bytes()))
	time.Sleep(3 * FilePollInterval)
	write(t, f, nl(newLine(t, 41_000).bytes()))
	eventually(t, 5*time.Second, "the lines after the step", func() bool { got, _, _ := r.Snapshot(); return got.Lines == 3 })
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestPeriodicLinesBesideRequested: Firecracker's own lines (one at boot,
// then every period) land between the requested ones, some a few
// milliseconds after one; nothing is counted twice and the rate is the
// traffic's, not a spike from a tiny window.
func TestPeriodicLinesBesideRequested(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "metrics.fifo")
	r, err := openMetrics(fifo)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer r.Close()
	const perMs = 10 // bytes into the guest per millisecond
	start := time.Now()
	var last atomic.Uint64
	sock := filepath.Join(dir, "api.sock")
	vm, err := fcstandin.Start(fcstandin.Config{ID: "p", Metrics: &fcstandin.Metrics{MetricsPath: fifo},
		Network: []fcstandin.NetworkInterface{{IfaceID: "eth0", HostDevName: "tap0"}}},
		fcstandin.Options{APISock: sock, Running: true, MetricsPeriod: 130 * time.Millisecond,
			Sources: fcstandin.Sources{Counters: func() fcstandin.Counters {
				n := uint64(time.Since(start).Milliseconds()) * perMs
				last.Store(n)
				return fcstandin.Counters{Net: map[string]fcstandin.NetCounters{"eth0": {RxBytes: n}}}
			}}})
	if err != nil {
		t.Fatal(err)
	}
	f := NewFlusher(NewClient(sock, Unix(sock), time.Second), 200*time.Millisecond, nil)
	for range 15 {
		f.Flush(context.Background(), time.Now())
		time.Sleep(200 * time.Millisecond)
	}
	vm.Close()
	eventually(t, 5*time.Second, "every line read", func() bool {
		got, _, _ := r.Snapshot()
		return got.NetAll != nil && got.NetAll.RxBytes == last.Load()
	})
	got, _, _ := r.Snapshot()
	if got.Lines < 15+20 || got.BadLines != 0 {
		t.Errorf("%d lines (%d bad), want the 15 requested and Firecracker's own", got.Lines, got.BadLines)
	}
	if rate := got.NetAll.RxBytesPerSec; rate < perMs*1000*0.7 || rate > perMs*1000*1.3 || got.RateWindowMs < MinRateWindowMs {
		t.Errorf("rate %.0f B/s over %d ms, want about %d", rate, got.RateWindowMs, perMs*1000)
	}
}
