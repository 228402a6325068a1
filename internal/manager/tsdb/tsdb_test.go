package tsdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
)

var loopback = netpolicy.MustParseList("test", "127.0.0.0/8")

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"ftp://127.0.0.1:9090", "http://user:pw@127.0.0.1:9090", "http://127.0.0.1:9090/?x=1",
		"http://0x7f.1:9090", "not a url"} {
		if _, err := New(u, loopback); err == nil {
			t.Errorf("New(%q) accepted it", u)
		}
	}
	if _, err := New("http://127.0.0.1:9090", loopback); err != nil {
		t.Error(err)
	}
}

// fakeAPI answers /api/v1/query_range with the series answer gives for a
// query (by a substring of it, or the whole query after "="); it records
// the queries.
type fakeAPI struct {
	mu      sync.Mutex
	queries []string
	answer  map[string]map[int64]float64 // substring of the query → values by Unix s
	status  int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	q := r.Form.Get("query")
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	if f.status != 0 {
		w.WriteHeader(f.status)
		fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
		return
	}
	var values [][]any
	for sub, vals := range f.answer {
		if exact, ok := strings.CutPrefix(sub, "="); (ok && q == exact) || (!ok && strings.Contains(q, sub)) {
			for ts, v := range vals {
				values = append(values, []any{ts, fmt.Sprint(v)})
			}
		}
	}
	result := []any{}
	if len(values) > 0 {
		result = append(result, map[string]any{"metric": map[string]string{}, "values": values})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": result}})
}

// TestQueryPicksSourcesPerPoint: at each step every group takes its best
// source with a value; the guest's memory total goes only with the
// guest's used memory; the selector names the host and the VM.
func TestQueryPicksSourcesPerPoint(t *testing.T) {
	f := &fakeAPI{answer: map[string]map[int64]float64{
		"node_cpu_seconds_total":                  {60: 40},
		"host_agent_vcpu_seconds_total":           {60: 35, 120: 20},
		"host_agent_cpu_seconds_total":            {60: 50, 120: 30, 180: 90},
		"node_memory_MemAvailable_bytes":          {60: 1 << 30},
		"host_agent_memory_rss_bytes":             {60: 3 << 30, 120: 3 << 30},
		"host_agent_network_receive_bytes_total":  {120: 1000},
		"host_agent_network_transmit_bytes_total": {120: 500},
		"node_network_receive_bytes_total":        {60: 10, 120: 20},
		"node_network_transmit_bytes_total":       {60: 5, 120: 10},
	}}
	// The used memory query subtracts MemAvailable from MemTotal: its fake
	// value is MemAvailable's; the total query (MemTotal alone) gives 4 GiB.
	f.answer[`=avg_over_time(node_memory_MemTotal_bytes{host="h1",vm_id="fc-a"}[1m])`] = map[int64]float64{60: 4 << 30, 120: 4 << 30}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := New(srv.URL, loopback)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := c.Query(context.Background(), Series{Host: "h1", VMID: "fc-a"}, 0, 200_000, 60_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 {
		t.Fatalf("%d points, want 3: %+v", len(pts), pts)
	}
	p1, p2, p3 := pts[0], pts[1], pts[2]
	if p1.TimestampMs != 60_000 || p1.Source != wire.SourceGuest || *p1.CPUUsagePercent != 40 || p1.MemorySource != wire.SourceGuest ||
		p1.NetRxBytesPerSec == nil || *p1.NetRxBytesPerSec != 10 || *p1.MemoryTotalKB != 4<<20 || *p1.MemoryUsagePercent != 25 {
		t.Errorf("point 1 %+v", p1)
	}
	if p2.Source != wire.SourceVCPU || *p2.CPUUsagePercent != 20 || p2.MemorySource != wire.SourceHost ||
		*p2.MemoryUsedKB != 3<<20 || p2.MemoryTotalKB != nil || p2.MemoryUsagePercent != nil ||
		*p2.NetRxBytesPerSec != 1000 || *p2.NetTxBytesPerSec != 500 {
		t.Errorf("point 2 %+v", p2)
	}
	if p3.Source != wire.SourceHost || *p3.CPUUsagePercent != 90 || p3.MemorySource != wire.SourceNone || p3.MemoryUsedKB != nil {
		t.Errorf("point 3 %+v", p3)
	}
	for _, q := range f.queries {
		if !strings.Contains(q, `host="h1",vm_id="fc-a"`) || !strings.Contains(q, "[1m]") {
			t.Errorf("query without the VM's selector or a 1m window: %s", q)
		}
	}
	// A VM polled directly is named by vm_id alone; a quote in it stays
	// inside the label value.
	f.queries = nil
	if _, err := c.Query(context.Background(), Series{VMID: `x"}`}, 0, 200_000, 600_000); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.queries[0], `{vm_id="x\"}"`) || !strings.Contains(f.queries[0], "[10m]") {
		t.Errorf("query %s", f.queries[0])
	}
}

func TestQueryFailsClearly(t *testing.T) {
	f := &fakeAPI{status: http.StatusBadRequest}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, _ := New(srv.URL, loopback)
	if _, err := c.Query(context.Background(), Series{VMID: "a"}, 0, 200_000, 60_000); err == nil || !strings.Contains(err.Error(), "tsdb query") {
		t.Errorf("err = %v", err)
	}
	// An address outside the allow-list is never dialled.
	c, _ = New(srv.URL, netpolicy.MustParseList("test", "10.0.0.0/8"))
	if _, err := c.Query(context.Background(), Series{VMID: "a"}, 0, 200_000, 60_000); err == nil {
		t.Error("a loopback TSDB was queried with only 10/8 allowed")
	}
}

// TestAnswersBounded (finding 6 of the attack issue): a TSDB streaming a
// matrix without end costs at most MaxAnswerBytes per query, and a slow one
// holds at most MaxConns connections, however many queries wait.
func TestAnswersBounded(t *testing.T) {
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]`)
		chunk := []byte(strings.Repeat(`,[1,"1"]`, 8192))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer endless.Close()
	c, _ := New(endless.URL, loopback)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := c.Query(context.Background(), Series{VMID: "a"}, 0, 3_600_000, 60_000)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("an endless answer: %v", err)
	}
	t.Logf("refused after %v; %d MB allocated in all", time.Since(start).Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>20)
	if grown := (after.TotalAlloc - before.TotalAlloc) >> 20; grown > 256 {
		t.Errorf("%d MB allocated for one history query", grown)
	}

	var open, most atomic.Int32
	slow := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
	}))
	slow.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n := open.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	slow.Start()
	defer slow.Close()
	c, _ = New(slow.URL, loopback)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { c.Query(context.Background(), Series{VMID: "a"}, 0, 600_000, 60_000) })
	}
	wg.Wait()
	if m := most.Load(); m > MaxConns {
		t.Errorf("%d connections open at once to a slow TSDB, want at most %d", m, MaxConns)
	}
	if _, err := c.Query(context.Background(), Series{VMID: "a"}, 0, 86_400_000*30, 1000); !errors.Is(err, ErrTooManyPoints) {
		t.Errorf("30 days at 1 s: %v", err)
	}
}
