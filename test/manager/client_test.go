package manager

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// call makes one API request with the manager's token, if any, and returns
// the status and body.
func (m *manager) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, m.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if m.token != "" {
		req.Header.Set("Authorization", "Bearer "+m.token)
	}
	client := m.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// must makes a request that has to answer want, decoding the body into out.
func (m *manager) must(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	status, data := m.call(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, data, err)
		}
	}
}

func (m *manager) register(t *testing.T, req map[string]any) wire.VM {
	t.Helper()
	var vm wire.VM
	m.must(t, http.StatusCreated, "POST", "/v1/vms", req, &vm)
	return vm
}

// waitLatest polls GET /v1/vms/{id}/metrics until ok holds, and returns
// that sample and when it was seen.
func (m *manager) waitLatest(t *testing.T, id string, within time.Duration, what string, ok func(wire.CombinedSample) bool) (wire.CombinedSample, time.Time) {
	t.Helper()
	deadline := time.Now().Add(within)
	var s wire.CombinedSample
	for {
		m.must(t, http.StatusOK, "GET", "/v1/vms/"+id+"/metrics", nil, &s)
		if ok(s) {
			return s, time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; latest %s", what, within, show(s))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isSource(src string) func(wire.CombinedSample) bool {
	return func(s wire.CombinedSample) bool { return s.Source == src && !s.Stale }
}

func show(s wire.CombinedSample) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// received is a sample as a WebSocket client got it.
type received struct {
	at time.Time
	s  wire.CombinedSample
}

// subscribe opens a stream at path (with opts) and delivers its samples on
// the returned channel until the test ends.
func (m *manager) subscribe(t *testing.T, path string, opts *websocket.DialOptions) (<-chan received, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(m.base, "http")+path, opts)
	if err != nil {
		cancel()
		t.Fatalf("dialing %s: %v", path, err)
	}
	out := make(chan received, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var s wire.CombinedSample
			if err := json.Unmarshal(data, &s); err != nil {
				t.Errorf("stream message %q: %v", data, err)
				return
			}
			select {
			case out <- received{time.Now(), s}:
			default: // the test stopped reading
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close(websocket.StatusNormalClosure, "")
		cancel()
		<-done
	})
	return out, resp
}

// next waits for a sample from ch that satisfies ok.
func next(t *testing.T, ch <-chan received, within time.Duration, what string, ok func(wire.CombinedSample) bool) received {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	var last wire.CombinedSample
	for {
		select {
		case r := <-ch:
			if ok(r.s) {
				return r
			}
			last = r.s
		case <-timer.C:
			t.Fatalf("%s: no such sample within %v; last %s", what, within, show(last))
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
