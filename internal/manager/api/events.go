package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Default and largest number of events one answer holds.
const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
)

// listEvents answers GET /v1/events?vm_id=&type=&since=&until=&limit=&label=,
// newest first: of the VMs the caller may see and the labels select.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	eq, err := a.eventQuery(q, "vm_id", "type", "since", "until", "limit", "label")
	if err != nil {
		return err
	}
	sel, err := selection(r)
	if err != nil {
		return err
	}
	if raw := q.Get("vm_id"); raw != "" {
		vm, err := a.lookupID(r.Context(), raw) // 404 outside the caller's scope
		if err != nil {
			return err
		}
		if !sel.Matches(vm.Merged) {
			return writeJSON(w, http.StatusOK, []wire.Event{})
		}
		eq.VMID = vm.ID
	} else if !sel.Empty() {
		rows, err := a.rows(r.Context())
		if err != nil {
			return err
		}
		eq.VMIDs = []string{}
		for i := range rows {
			if sel.Matches(rows[i].VM.Merged) {
				eq.VMIDs = append(eq.VMIDs, rows[i].VM.ID)
			}
		}
	}
	return a.writeEvents(w, r, eq)
}

// vmEvents answers GET /v1/vms/{id}/events?type=&since=&until=&limit=.
func (a *API) vmEvents(w http.ResponseWriter, r *http.Request) error {
	vm, err := a.lookup(r)
	if err != nil {
		return err
	}
	eq, err := a.eventQuery(r.URL.Query(), "type", "since", "until", "limit")
	if err != nil {
		return err
	}
	eq.VMID = vm.ID
	return a.writeEvents(w, r, eq)
}

func (a *API) writeEvents(w http.ResponseWriter, r *http.Request, eq store.EventQuery) error {
	events, err := a.opt.Store.Events(r.Context(), eq)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, events)
}

// eventQuery checks the parameters of an events request: only those
// allowed, each at most once; type one of wire.EventTypes; since and until
// Unix ms; limit 1 to maxEventLimit (default defaultEventLimit).
func (a *API) eventQuery(q url.Values, allowed ...string) (store.EventQuery, error) {
	eq := store.EventQuery{Limit: defaultEventLimit}
	for name, vals := range q {
		if !slices.Contains(allowed, name) {
			return eq, badRequest("unknown parameter %q; expected %s", clip(name), strings.Join(allowed, ", "))
		}
		if len(vals) != 1 && name != "label" {
			return eq, badRequest("%s is given %d times; expected it at most once", name, len(vals))
		}
	}
	if t := q.Get("type"); t != "" {
		if !slices.Contains(wire.EventTypes, t) {
			return eq, badRequest("type %q is not an event type; expected one of %s", clip(t), strings.Join(wire.EventTypes, ", "))
		}
		eq.Type = t
	}
	var err error
	if eq.SinceMs, err = a.msParam(q, "since"); err != nil {
		return eq, err
	}
	if eq.UntilMs, err = a.msParam(q, "until"); err != nil {
		return eq, err
	}
	if eq.UntilMs != 0 && eq.SinceMs > eq.UntilMs {
		return eq, badRequest("since %d is after until %d; expected since <= until", eq.SinceMs, eq.UntilMs)
	}
	if raw, ok := q["limit"]; ok {
		n, err := strconv.Atoi(raw[0])
		if err != nil || n < 1 || n > maxEventLimit {
			return eq, badRequest("limit %q is not a number from 1 to %d", clip(raw[0]), maxEventLimit)
		}
		eq.Limit = n
	}
	return eq, nil
}
