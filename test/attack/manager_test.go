package attack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/netns"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// serve runs h on a loopback port until the test ends and returns its URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// startManager runs the manager on SQLite in a directory of its own.
func startManager(t *testing.T, args ...string) (*testprog.Proc, string, string) {
	t.Helper()
	dir := t.TempDir()
	p := testprog.Start(t, managerBin, dir, nil, testprog.ManagerServing,
		append([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--poll-interval", "250ms"}, args...)...)
	return p, "http://" + p.Addr, filepath.Join(dir, "fcmon.db")
}

// TestChurningHost (finding 5): a host agent reporting 2,000 new VM ids at
// every poll gets a bounded registry, database, event log and memory: the
// burst of --host-new-vms-per-minute, never more than --max-vms, and its
// gone VMs that never had figures forgotten.
func TestChurningHost(t *testing.T) {
	netns.Require(t)
	var polls atomic.Int64
	var churning atomic.Bool
	churning.Store(true)
	host := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := polls.Add(1)
		doc := wire.HostSamples{Host: "churn", TimestampMs: time.Now().UnixMilli(), IntervalMs: 250, VMs: []wire.VMSample{}}
		if churning.Load() {
			for i := range 2000 {
				doc.VMs = append(doc.VMs, wire.VMSample{ID: fmt.Sprintf("churn-%d-%d", n, i), Discovered: true})
			}
		}
		json.NewEncoder(w).Encode(doc)
	}))
	m, url, db := startManager(t, "--host-agents", host, "--forget-unsampled-after", "4s", "--max-vms", "5000")
	rssBefore := rssKB(t, m.Cmd.Process.Pid)
	time.Sleep(20 * time.Second)
	var page wire.VMPage
	getJSON(t, url+"/v1/vms?limit=1", &page)
	var events []wire.Event
	getJSON(t, url+"/v1/events?type=vmm_exit&limit=1000", &events)
	fi, err := os.Stat(db)
	must(t, err)
	rss := rssKB(t, m.Cmd.Process.Pid)
	t.Logf("after %d polls of 2,000 new ids: %d VMs, %d vmm_exit events, database %d kB, peak RSS %d kB (%d kB at start)",
		polls.Load(), page.Total, len(events), fi.Size()>>10, rss, rssBefore)
	if polls.Load() < 40 {
		t.Fatalf("only %d polls in 20 s", polls.Load())
	}
	// 2,000 at once, then 2,000 a minute: at most about 2,700 in 20 s.
	if page.Total > 2800 {
		t.Errorf("%d VMs registered in 20 s, want the rate's bound (about 2,700)", page.Total)
	}
	if len(events) > 61 {
		t.Errorf("%d vmm_exit events within a minute, want at most 60 and a summary", len(events))
	}
	if fi.Size() > 16<<20 {
		t.Errorf("the database is %d kB", fi.Size()>>10)
	}
	if rss > 200<<10 {
		t.Errorf("peak RSS %d kB", rss)
	}
	var hosts []wire.Host
	getJSON(t, url+"/v1/hosts", &hosts)
	if len(hosts) != 1 || hosts[0].UnregisteredVMs == 0 {
		t.Errorf("the host's status does not say VMs wait: %+v", hosts)
	}
	// The churn stops: the gone VMs, none with a figure, are forgotten.
	churning.Store(false)
	waitFor(t, 30*time.Second, "the unsampled gone VMs forgotten", func() bool {
		getJSON(t, url+"/v1/vms?limit=1", &page)
		return page.Total == 0
	})
}

// TestEndlessTSDB (finding 6): a TSDB streaming a range answer without end,
// or answering slowly, costs the manager bounded memory and connections;
// the history request gets a 502.
func TestEndlessTSDB(t *testing.T) {
	netns.Require(t)
	var inFlight, most atomic.Int32
	var slow, counting atomic.Bool
	tsdb := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			// Requests in flight here: one per connection (HTTP/1.1).
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); counting.Load() && n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(500 * time.Millisecond)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]`)
		chunk := []byte(strings.Repeat(`,[1,"1"]`, 8192))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	m, url, _ := startManager(t, "--history-url", serve(t, tsdb), "--guest-allow-cidrs", "127.0.0.0/8")
	res, err := http.Post(url+"/v1/vms", "application/json", strings.NewReader(`{"name":"hist","guest_ip":"127.0.0.1","guest_port":9}`))
	must(t, err)
	var vm wire.VM
	json.NewDecoder(res.Body).Decode(&vm)
	res.Body.Close()
	now := time.Now().UnixMilli()
	path := fmt.Sprintf("%s/v1/vms/%s/metrics/history?since=%d&until=%d&step=60000", url, vm.ID, now-6*3600_000, now-3600_000)
	var codes sync.Map
	ask := func(d time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, "GET", path, nil)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					codes.Store(res.StatusCode, i)
				}
			})
		}
		wg.Wait()
	}
	ask(30 * time.Second)
	rss := rssKB(t, m.Cmd.Process.Pid)
	t.Logf("30 s of 6 clients asking history of an endless TSDB: peak RSS %d kB", rss)
	if rss > 400<<10 {
		t.Errorf("peak RSS %d kB", rss)
	}
	if _, ok := codes.Load(http.StatusBadGateway); !ok {
		t.Error("no history request was answered 502")
	}
	// A slow TSDB: however many requests wait, at most 4 connections.
	// Counted only while no client gives up: a request cancelled at either
	// end frees its connection at once, while the TSDB still sleeps on it.
	slow.Store(true)
	go func() {
		time.Sleep(time.Second)
		counting.Store(true)
		time.Sleep(3500 * time.Millisecond)
		counting.Store(false)
	}()
	ask(5 * time.Second)
	n := most.Load()
	t.Logf("a slow TSDB had at most %d requests (connections) in flight at once", n)
	if n > 4 || n == 0 {
		t.Errorf("%d requests to the TSDB at once, want 1 to 4", n)
	}
}
