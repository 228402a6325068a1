package firecracker

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
)

// request is what the stand-in Firecracker saw of one API call.
type request struct {
	method, uri, contentType string
	body                     []byte
}

// fakeFirecracker is a stand-in for Firecracker's API server on a real Unix
// socket. It records every request and, like Firecracker, answers a
// FlushMetrics with 204 after writing a metrics line to its metrics FIFO.
type fakeFirecracker struct {
	t      *testing.T
	socket string
	fifo   *os.File // nil: no metrics configured
	srv    *http.Server

	mu      sync.Mutex
	reqs    []request
	nextMs  int64
	status  int    // answer instead of 204 when set
	message string // fault_message with status
}

func newFakeFirecracker(t *testing.T, socket, fifoPath string) *fakeFirecracker {
	t.Helper()
	fc := &fakeFirecracker{t: t, socket: socket, nextMs: 1_767_225_600_000}
	if fifoPath != "" {
		// Firecracker opens its metrics path O_RDWR|O_NONBLOCK (O_CREAT too).
		f, err := os.OpenFile(fifoPath, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		fc.fifo = f
		t.Cleanup(func() { f.Close() })
	}
	fc.start()
	return fc
}

func (fc *fakeFirecracker) start() {
	ln, err := net.Listen("unix", fc.socket)
	if err != nil {
		fc.t.Fatal(err)
	}
	fc.srv = &http.Server{Handler: http.HandlerFunc(fc.serve), ReadHeaderTimeout: time.Second}
	go fc.srv.Serve(ln)
	fc.t.Cleanup(func() { fc.srv.Close() })
}

func (fc *fakeFirecracker) stop() { fc.srv.Close() }

func (fc *fakeFirecracker) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.reqs = append(fc.reqs, request{r.Method, r.RequestURI, r.Header.Get("Content-Type"), body})
	if fc.status != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fc.status)
		io.WriteString(w, `{"fault_message":"`+fc.message+`"}`)
		return
	}
	if fc.fifo != nil && r.URL.Path == "/actions" && strings.Contains(string(body), "FlushMetrics") {
		fc.nextMs += 1000
		line := newLine(fc.t, fc.nextMs).zero().set("net_eth0", "rx_bytes_count", 1000).set("net", "rx_bytes_count", 1000).bytes()
		fc.fifo.Write(append(line, '\n'))
	}
	w.WriteHeader(http.StatusNoContent)
}

func (fc *fakeFirecracker) requests() []request {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return append([]request(nil), fc.reqs...)
}

func (fc *fakeFirecracker) fail(status int, message string) {
	fc.mu.Lock()
	fc.status, fc.message = status, message
	fc.mu.Unlock()
}

func checkFlushRequest(t *testing.T, r request) {
	t.Helper()
	if r.method != "PUT" || r.uri != "/actions" || r.contentType != "application/json" ||
		string(r.body) != `{"action_type":"FlushMetrics"}` {
		t.Fatalf("request = %s %s (%s) %q; want PUT /actions (application/json) %q",
			r.method, r.uri, r.contentType, r.body, `{"action_type":"FlushMetrics"}`)
	}
}

func TestFlushMetricsRequest(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	fc := newFakeFirecracker(t, sock, "")
	c := NewClient(sock, Unix(sock), time.Second)
	defer c.Close()
	if err := c.FlushMetrics(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := fc.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	checkFlushRequest(t, reqs[0])
}

func TestFlushMetricsErrors(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	fc := newFakeFirecracker(t, sock, "")
	fc.fail(400, "The requested operation is not supported before starting the microVM.")
	err := NewClient(sock, Unix(sock), time.Second).FlushMetrics(context.Background())
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request: The requested operation is not supported before starting") {
		t.Errorf("fault: %v", err)
	}
	err = NewClient("none.sock", Unix(filepath.Join(dir, "none.sock")), time.Second).FlushMetrics(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no such file") || strings.Contains(err.Error(), "http://") {
		t.Errorf("missing socket: %v", err)
	}
	// A VMM that accepts but never answers is cut off by the timeout.
	hung := filepath.Join(dir, "hung.sock")
	ln, err := net.Listen("unix", hung)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	err = NewClient(hung, Unix(hung), 200*time.Millisecond).FlushMetrics(context.Background())
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("hung VMM: %v after %v", err, time.Since(start))
	}
}

// TestFlushLoopEndToEnd runs the whole path: the Flusher asks the stand-in
// Firecracker to flush, which writes a line to the FIFO, which the reader
// sums. Then the VMM goes away and comes back.
func TestFlushLoopEndToEnd(t *testing.T) {
	dir := t.TempDir()
	fifo, sock := filepath.Join(dir, "metrics.fifo"), filepath.Join(dir, "api.sock")
	r := startReader(t, fifo)
	fc := newFakeFirecracker(t, sock, fifo)
	f := NewFlusher(NewClient(sock, Unix(sock), time.Second), 100*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the poller's loop, at a finer step than the interval
		for ctx.Err() == nil {
			f.Flush(ctx, time.Now())
			time.Sleep(20 * time.Millisecond)
		}
	}()

	eventually(t, 5*time.Second, "5 flushed lines", func() bool {
		tot, _, _ := r.Snapshot()
		return tot.Lines >= 5
	})
	tot, _, _ := r.Snapshot()
	if tot.Net["eth0"].RxBytes != 1000*tot.Lines || tot.Net["eth0"].RxBytesPerSec != 1000 {
		t.Errorf("after %d lines: rx %d at %v B/s", tot.Lines, tot.Net["eth0"].RxBytes, tot.Net["eth0"].RxBytesPerSec)
	}
	for _, req := range fc.requests() {
		checkFlushRequest(t, req)
	}
	if st := f.Status(); st.Failures != 0 || st.LastSuccess.IsZero() {
		t.Errorf("status %+v", st)
	}

	fc.stop()
	os.Remove(sock)
	eventually(t, 5*time.Second, "a failure", func() bool { return f.Status().LastError != "" })
	fc.start()
	eventually(t, 10*time.Second, "recovery", func() bool { return f.Status().LastError == "" })
	if st := f.Status(); st.Failures == 0 {
		t.Errorf("no failure recorded: %+v", st)
	}
}

func TestFlushReturnsWhenCancelled(t *testing.T) {
	hung := filepath.Join(t.TempDir(), "hung.sock")
	ln, err := net.Listen("unix", hung)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := NewFlusher(NewClient(hung, Unix(hung), time.Minute), time.Second, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	f.Flush(ctx, start)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Flush took %v after its context ended", d)
	}
	if st := f.Status(); st.Requests != 0 {
		t.Errorf("a cancelled call was recorded: %+v", st)
	}
}

// TestFlushPacing: one call per interval, backing off while failing.
func TestFlushPacing(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "absent.sock")
	f := NewFlusher(NewClient(sock, Unix(sock), time.Second), time.Second, nil)
	t0 := time.Now()
	for i := range 20 { // 10 s in half-second steps
		f.Flush(context.Background(), t0.Add(time.Duration(i)*500*time.Millisecond))
	}
	// Failing: calls at 0, 1, 3, 7 s (1 s doubling).
	if st := f.Status(); st.Requests != 4 || st.Failures != 4 {
		t.Errorf("10 s of a failing VMM: %+v, want 4 calls", st)
	}
}

// TestFlushIntoFullFIFO: against the Firecracker stand-in with nobody
// reading its FIFO, FlushMetrics fails once the pipe is full, and each such
// refusal is counted as a lost line.
func TestFlushIntoFullFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo, sock := filepath.Join(dir, "metrics.fifo"), filepath.Join(dir, "api.sock")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	vm, err := fcstandin.Start(fcstandin.Config{ID: "full", Metrics: &fcstandin.Metrics{MetricsPath: fifo}},
		fcstandin.Options{APISock: sock, Running: true})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	f := NewFlusher(NewClient(sock, Unix(sock), time.Second), time.Millisecond, nil)
	for i := 0; i < 100 && f.Status().Lost == 0; i++ {
		f.Flush(context.Background(), time.Now().Add(time.Duration(i)*time.Hour)) // every call due
	}
	st := f.Status()
	if st.Lost == 0 || !strings.Contains(st.LastError, "Failed to write metrics") {
		t.Fatalf("status after filling the FIFO: %+v", st)
	}
}
