package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// healthTimeout bounds the database ping of GET /healthz.
const healthTimeout = 2 * time.Second

// latest answers the VM's newest combined sample. A known VM that has not
// been polled yet gets a sample with source "none" and stale true rather
// than a 404, which is reserved for unknown VMs.
func (a *API) latest(w http.ResponseWriter, r *http.Request) error {
	vm, err := a.lookup(r)
	if err != nil {
		return err
	}
	if a.opt.Samples != nil {
		if s, ok := a.opt.Samples.Latest(vm.ID); ok {
			return writeJSON(w, http.StatusOK, s)
		}
	}
	// Collected by another manager sharing the database: its latest.
	var s wire.CombinedSample
	if a.fromPeer(r, vm, "/v1/vms/"+vm.ID+"/metrics", &s) && s.VMID == vm.ID {
		return writeJSON(w, http.StatusOK, s)
	}
	return writeJSON(w, http.StatusOK, wire.CombinedSample{
		VMID: vm.ID, TimestampMs: a.opt.Now().UnixMilli(), Source: wire.SourceNone, MemorySource: wire.SourceNone, Stale: true})
}

// history answers the VM's samples over ?since=&until=&step= (Unix ms);
// the history applies defaults to what is left out and checks the range.
func (a *API) history(w http.ResponseWriter, r *http.Request) error {
	vm, err := a.lookup(r)
	if err != nil {
		return err
	}
	if a.opt.History == nil {
		return unavailable("history")
	}
	rng, err := a.historyRange(r.URL.Query())
	if err != nil {
		return err
	}
	// A VM another manager collects has its live window there.
	var ph wire.History
	if a.fromPeer(r, vm, "/v1/vms/"+vm.ID+"/metrics/history?"+r.URL.RawQuery, &ph) && ph.VMID == vm.ID {
		return writeJSON(w, http.StatusOK, ph)
	}
	h, err := a.opt.History.Query(r.Context(), vm.ID, rng[0], rng[1], rng[2])
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, h)
}

// Bounds of since and until: Unix ms from 2000-01-01 to 9999-12-31, so
// no arithmetic on them overflows and a forgotten unit (seconds for ms)
// is caught.
const (
	minTimeMs = 946_684_800_000
	maxTimeMs = 253_402_300_799_999
	// defaultSpanMs is how far before until since defaults to (the
	// history's own default).
	defaultSpanMs = 5 * 60 * 1000
)

// historyRange reads since, until and step (0 for each absent) and checks
// them: times within this era, since not after until, a step no longer
// than the range.
func (a *API) historyRange(q url.Values) ([3]int64, error) {
	var rng [3]int64
	for i, name := range []string{"since", "until", "step"} {
		var err error
		if rng[i], err = a.msParam(q, name); err != nil {
			return rng, err
		}
	}
	since, until, step := rng[0], rng[1], rng[2]
	for i, name := range []string{"since", "until"} {
		if v := rng[i]; v != 0 && (v < minTimeMs || v > maxTimeMs) {
			return rng, badRequest("%s %d is not a Unix time in milliseconds between 2000-01-01 and 9999-12-31 (now is %d)",
				name, v, a.opt.Now().UnixMilli())
		}
	}
	if since != 0 && until != 0 && since > until {
		return rng, badRequest("since %d is after until %d; expected since <= until", since, until)
	}
	if until != 0 && since == 0 && until-defaultSpanMs < minTimeMs {
		return rng, badRequest("until %d leaves no room for the default 5 minutes before it; give since too", until)
	}
	if step > maxTimeMs-minTimeMs {
		return rng, badRequest("step %d is longer than any range; expected milliseconds such as 60000", step)
	}
	return rng, nil
}

// msParam reads one non-negative integer parameter; 0 when absent.
func (a *API) msParam(q url.Values, name string) (int64, error) {
	vals, ok := q[name]
	if !ok {
		return 0, nil
	}
	if len(vals) != 1 {
		return 0, badRequest("%s is given %d times; expected it at most once", name, len(vals))
	}
	n, err := strconv.ParseInt(vals[0], 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("%s %q is not a number of milliseconds; expected a non-negative integer (since and until are Unix ms, such as %d)",
			name, clip(vals[0]), a.opt.Now().UnixMilli())
	}
	return n, nil
}

// streamVM upgrades to a WebSocket carrying every new sample of the VM.
func (a *API) streamVM(w http.ResponseWriter, r *http.Request) error {
	vm, err := a.lookup(r)
	if err != nil {
		return err
	}
	if a.opt.Streams == nil {
		return unavailable("streaming")
	}
	a.opt.Streams.ServeVM(w, r, vm.ID)
	return nil
}

// streamAll upgrades to a WebSocket carrying every new sample of every VM.
func (a *API) streamAll(w http.ResponseWriter, r *http.Request) error {
	if a.opt.Streams == nil {
		return unavailable("streaming")
	}
	sel, err := selection(r)
	if err != nil {
		return err
	}
	a.opt.Streams.ServeAll(w, r, a.keeper(sel))
	return nil
}

// streamFleet upgrades to the fleet WebSocket: fleet summaries, every
// event, and the samples of the VMs the client watches.
func (a *API) streamFleet(w http.ResponseWriter, r *http.Request) error {
	if a.opt.Streams == nil {
		return unavailable("streaming")
	}
	sel, err := selection(r)
	if err != nil {
		return err
	}
	a.opt.Streams.ServeFleet(w, r, sel, a.keeper(sel))
	return nil
}

// metrics serves the Prometheus export.
func (a *API) metrics(w http.ResponseWriter, r *http.Request) error {
	if a.opt.Metrics == nil {
		return unavailable("the Prometheus export")
	}
	a.opt.Metrics.ServeMetrics(w, r, a.keeper(scopeOf(r.Context())))
	return nil
}

// health answers "OK" when the database answers a ping within
// healthTimeout, else 503; the cause goes to the log, not to the
// unauthenticated caller.
func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	if err := a.opt.Store.Ping(ctx); err != nil {
		a.log.Warn("health check: the database does not answer", "err", err)
		return httpapi.Errorf(http.StatusServiceUnavailable, "the %s database does not answer", a.backend())
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write([]byte("OK"))
	return err
}

// fromPeer asks the manager that collects vm (another one sharing the
// database) for path and decodes its answer into v; false when this
// manager collects the VM itself, or no peer answered.
func (a *API) fromPeer(r *http.Request, vm store.VM, path string, v any) bool {
	// A request a peer sent is answered here, never passed on again: two
	// managers whose views of a handover differ for a second must not
	// send it back and forth.
	if vm.HostID == "" || !a.shared() || r.Header.Get(PeerHeader) != "" {
		return false
	}
	if a.opt.Samples != nil {
		if _, ok := a.opt.Samples.Latest(vm.ID); ok {
			return false
		}
	}
	body, ok := a.opt.Cluster.Peer(r.Context(), vm.HostID, path)
	return ok && json.Unmarshal(body, v) == nil
}

// PeerHeader marks a request one manager sends another sharing its
// database (wire.PeerHeader).
const PeerHeader = wire.PeerHeader
