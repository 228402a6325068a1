package firecracker

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openMetrics opens path as the agent opens an attached VM's, creating a
// FIFO when it is absent.
func openMetrics(path string) (*MetricsReader, error) {
	m, err := vmpath.Host([]string{filepath.Dir(path)}, vmpath.AnyOwner).OpenMetrics(path, true)
	if err != nil {
		return nil, err
	}
	return NewMetricsReader(m, time.Time{}), nil
}

func startReader(t *testing.T, path string) *MetricsReader {
	t.Helper()
	r, err := openMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() { r.Close() })
	return r
}

// openWriter opens the FIFO the way Firecracker does (read-write,
// non-blocking), so the test never blocks on it.
func openWriter(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func write(t *testing.T, f *os.File, chunks ...[]byte) {
	t.Helper()
	for _, c := range chunks {
		if _, err := f.Write(c); err != nil {
			t.Fatal(err)
		}
	}
}

func nl(b []byte) []byte { return append(b, '\n') }

func TestFIFOReaderEndToEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.fifo")
	r := startReader(t, path)
	if fi, err := os.Stat(path); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 || !r.Created() || r.Kind() != KindFIFO {
		t.Fatalf("FIFO not created: %v %v created=%v kind=%s", fi, err, r.Created(), r.Kind())
	}
	const t0 = 1_767_225_600_000
	line := func(ms int64, rx, rd uint64) []byte {
		return newLine(t, ms).zero().
			set("net_eth0", "rx_bytes_count", rx).set("net", "rx_bytes_count", rx).
			set("block_rootfs", "read_bytes", rd).set("block", "read_bytes", rd).bytes()
	}
	w := openWriter(t, path)
	write(t, w, nl(line(t0, 100, 10)))
	// A line split across writes.
	l2 := nl(line(t0+1000, 200, 20))
	write(t, w, l2[:100])
	time.Sleep(30 * time.Millisecond)
	write(t, w, l2[100:])
	// Junk before a whole line: the line is recovered, the junk counted.
	write(t, w, append([]byte("\x00junk}"), nl(line(t0+2000, 300, 30))...))
	// A truncated line ended by a newline: counted, nothing summed.
	write(t, w, nl(line(t0+2500, 999, 999)[:500]))
	// Unknown key and a missing section (no block at all) are fine.
	write(t, w, nl(newLine(t, t0+3000).zero().set("net_eth0", "rx_bytes_count", 400).set("net", "rx_bytes_count", 400).
		add("brand_new_device", `{"x":1}`).drop("block").drop("block_rootfs").bytes()))
	w.Close()
	// A new writer (Firecracker restarted) is read like the first.
	w2 := openWriter(t, path)
	defer w2.Close()
	write(t, w2, nl(line(t0+4000, 500, 50)))

	var got Totals
	eventually(t, 5*time.Second, "5 lines and 2 bad ones", func() bool {
		got, _, _ = r.Snapshot()
		return got.Lines == 5 && got.BadLines == 2
	})
	if got.NetAll.RxBytes != 1500 || got.Net["eth0"].RxBytes != 1500 {
		t.Errorf("net rx total = %d/%d, want 1500 (sum of deltas)", got.NetAll.RxBytes, got.Net["eth0"].RxBytes)
	}
	if got.BlockAll.ReadBytes != 110 {
		t.Errorf("block read total = %d, want 110", got.BlockAll.ReadBytes)
	}
	if rate := got.Net["eth0"].RxBytesPerSec; rate != 500 || got.RateWindowMs != 1000 {
		t.Errorf("rx rate = %v over %d ms, want 500 B/s over 1000 ms (delta/Δt)", rate, got.RateWindowMs)
	}
	if rate := got.BlockAll.ReadBytesPerSec; rate != 50 {
		t.Errorf("read rate = %v, want 50", rate)
	}
	if got.LastLineMs != t0+4000 {
		t.Errorf("LastLineMs = %d", got.LastLineMs)
	}
}

// TestFIFOGluedLine reproduces a full pipe: Firecracker's non-blocking
// write of one line stops half-way, and the next line follows without a
// newline in between.
func TestFIFOGluedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m")
	r := startReader(t, path)
	w := openWriter(t, path)
	defer w.Close()
	first := newLine(t, 1000).bytes()
	write(t, w, first[:len(first)/2], nl(newLine(t, 2000).bytes()), []byte("tail of a failed line\n"))
	eventually(t, 5*time.Second, "glued line", func() bool {
		got, _, _ := r.Snapshot()
		return got.Lines == 1 && got.BadLines == 2 && got.LastLineMs == 2000
	})
}

func TestFIFOLongLineSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m")
	r := startReader(t, path)
	w := openWriter(t, path)
	defer w.Close()
	junk := bytes.Repeat([]byte("x"), 64<<10)
	for range (MaxLineBytes / len(junk)) + 2 {
		write(t, w, junk)
	}
	write(t, w, []byte("\n"), nl(newLine(t, 1).bytes()))
	eventually(t, 5*time.Second, "line after the long one", func() bool {
		got, _, _ := r.Snapshot()
		return got.Lines == 1 && got.LongLines == 1 && got.BadLines == 1
	})
}

func TestFIFOWithoutWriterClosesPromptly(t *testing.T) {
	r, err := openMetrics(filepath.Join(t.TempDir(), "never-written"))
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	time.Sleep(50 * time.Millisecond) // let the reader block in read
	start := time.Now()
	r.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
	r.Close() // idempotent
}

func TestRegularFileTailed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.json")
	if err := os.WriteFile(path, append(nl(newLine(t, 1000).bytes()), nl(newLine(t, 2000).bytes())...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startReader(t, path)
	if r.Kind() != KindFile || r.Created() {
		t.Fatalf("kind %s created %v", r.Kind(), r.Created())
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write(t, f, nl(newLine(t, 3000).bytes()))
	eventually(t, 5*time.Second, "3 lines from the file", func() bool {
		got, _, _ := r.Snapshot()
		return got.Lines == 3
	})
	start := time.Now()
	r.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
}

func TestOpenMetricsRejects(t *testing.T) {
	dir := t.TempDir()
	if _, err := openMetrics(dir); err == nil || !strings.Contains(err.Error(), "is a directory, not a FIFO") {
		t.Errorf("directory: %v", err)
	}
	if _, err := openMetrics(filepath.Join(dir, "missing", "m")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing parent: %v", err)
	}
}
