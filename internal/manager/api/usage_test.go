package api

import (
	"context"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// TestUsage: GET /v1/usage against sums computed here from the same
// rollups: per VM and per label value, a gap of ten minutes adding
// nothing, a restored VM's minutes (some of few samples) counted once, the
// CSV the same rows as the JSON.
func TestUsage(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PollInterval = time.Second })
	a := e.create(t, `{"name":"a","labels":{"tenant":"acme"}}`)
	b := e.create(t, `{"name":"b","labels":{"tenant":"acme"}}`)
	c := e.create(t, `{"name":"c"}`)
	base := testNow.Add(-2*time.Hour).UnixMilli() / 60000 * 60000
	st := func(v float64) store.Stat { return store.Stat{Avg: v, Max: v, Valid: true} }
	var rollups []store.Rollup
	type want struct{ used, alloc, memAlloc, memUsed, net, disk, secs float64 }
	exp := map[string]*want{a.ID: {}, b.ID: {}, c.ID: {}}
	add := func(id string, minute int, samples int, cpu, vcpus, totalKB, usedKB, rate float64) {
		r := store.Rollup{VMID: id, MinuteMs: base + int64(minute)*60000, Samples: samples, Source: wire.SourceGuest, SourceSamples: samples,
			MemorySource: wire.SourceGuest, MemorySourceSamples: samples, CPU: st(cpu), VCPUs: st(vcpus), MemTotalKB: st(totalKB),
			MemUsedKB: st(usedKB), NetRx: st(rate), NetTx: st(rate), DiskRead: st(rate / 2), DiskWrite: st(rate / 2)}
		rollups = append(rollups, r)
		secs := math.Min(60, float64(samples))
		w := exp[id]
		w.used += cpu / 100 * vcpus * secs
		w.alloc += vcpus * secs
		w.memAlloc += totalKB / (1 << 20) * secs
		w.memUsed += usedKB / (1 << 20) * secs
		w.net += 2 * rate * secs
		w.disk += rate * secs
		w.secs += secs
	}
	for m := 0; m < 30; m++ {
		if m >= 10 && m < 20 { // a: a gap of ten minutes
			continue
		}
		add(a.ID, m, 60, 50, 2, 1<<20, 1<<19, 1000)
	}
	for m := 0; m < 30; m++ {
		samples := 60
		if m == 15 || m == 16 { // b: restored mid-minute, few samples around it
			samples = 20
		}
		add(b.ID, m, samples, 25, 4, 2<<20, 1<<20, 0)
	}
	add(c.ID, 0, 60, 100, 1, 1<<20, 1<<20, 10)
	if err := e.st.UpsertRollups(context.Background(), rollups); err != nil {
		t.Fatal(err)
	}
	q := "/v1/usage?since=" + strconv.FormatInt(base, 10) + "&until=" + strconv.FormatInt(base+3600000, 10)
	var got wire.Usage
	decode(t, e.do(t, request{method: "GET", path: q}), &got)
	if len(got.Rows) != 3 || got.GroupBy != "vm" {
		t.Fatalf("rows %+v", got)
	}
	close := func(x, y float64) bool { return math.Abs(x-y) < 0.01 }
	for _, r := range got.Rows {
		w := exp[r.VMID]
		if !close(r.VCPUSecondsUsed, w.used) || !close(r.VCPUSecondsAllocated, w.alloc) || !close(r.MemoryGiBSecondsAllocated, w.memAlloc) ||
			!close(r.MemoryGiBSecondsUsed, w.memUsed) || !close(r.NetworkBytes, w.net) || !close(r.DiskBytes, w.disk) || !close(r.Seconds, w.secs) || r.Source != "guest" {
			t.Errorf("%s: %+v, want %+v", r.VMName, r, *w)
		}
	}
	if got.Rows[0].VMName != "b" { // the most vCPU-seconds first
		t.Errorf("order: %s first", got.Rows[0].VMName)
	}
	var g wire.Usage
	decode(t, e.do(t, request{method: "GET", path: q + "&group_by=label:tenant"}), &g)
	if len(g.Rows) != 2 || g.Rows[0].Value != "acme" || !close(g.Rows[0].VCPUSecondsUsed, exp[a.ID].used+exp[b.ID].used) || !g.Rows[1].Missing {
		t.Errorf("by tenant: %+v", g.Rows)
	}
	// The CSV: a header and the JSON's rows, as a CSV reader reads them.
	w := e.do(t, request{method: "GET", path: q + "&format=csv"})
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	recs, err := csv.NewReader(w.Body).ReadAll()
	if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != "vm_id,vm_name,value,vcpu_seconds_used,vcpu_seconds_allocated,memory_gib_seconds_allocated,memory_gib_seconds_used,network_bytes,disk_bytes,source,seconds" {
		t.Fatalf("csv: %v %v", recs, err)
	}
	for i, rec := range recs[1:] {
		if used, _ := strconv.ParseFloat(rec[3], 64); rec[0] != got.Rows[i].VMID || used != got.Rows[i].VCPUSecondsUsed {
			t.Errorf("csv row %d %v, json %+v", i, rec, got.Rows[i])
		}
	}
	for _, bad := range []string{"group_by=host", "group_by=label:a-b", "format=xml", "since=5", "until=1", "x=1"} {
		if w := e.do(t, request{method: "GET", path: "/v1/usage?" + bad}); w.Code != 400 {
			t.Errorf("?%s: %d", bad, w.Code)
		}
	}
}
