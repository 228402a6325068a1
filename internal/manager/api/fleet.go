package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/fleet"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Paging of GET /v1/vms.
const (
	defaultVMLimit = 100
	maxVMLimit     = 1000
	maxSearchBytes = 256
	// maxClusterWindow bounds offset+limit of a page when managers share
	// the database: each is asked for its first offset+limit VMs.
	maxClusterWindow = 10000
)

// Sort keys of GET /v1/vms?sort=, with their default order.
var vmSorts = map[string]string{
	"name": "asc", "cpu": "desc", "memory": "desc", "net": "desc", "disk": "desc", "age": "asc",
}

var vmListParams = []string{"q", "source", "state", "host", "label", "sort", "order", "limit", "offset"}

// parseVMQuery checks the parameters of a paged VM list; limit may be up
// to maxLimit.
func parseVMQuery(r *http.Request, maxLimit int) (fleet.Query, error) {
	q := r.URL.Query()
	vq := fleet.Query{Sort: "name", Limit: defaultVMLimit}
	for name, vals := range q {
		if !slices.Contains(vmListParams, name) {
			return vq, badRequest("unknown parameter %q; expected %s", clip(name), strings.Join(vmListParams, ", "))
		}
		if len(vals) != 1 && name != "label" {
			return vq, badRequest("%s is given %d times; expected it at most once", name, len(vals))
		}
	}
	vq.Q = strings.ToLower(strings.TrimSpace(q.Get("q")))
	if len(vq.Q) > maxSearchBytes {
		return vq, badRequest("q is %d bytes long; at most %d", len(vq.Q), maxSearchBytes)
	}
	if s := q.Get("source"); s != "" {
		if !slices.Contains(wire.CPUSources, s) && !slices.Contains(wire.MemorySources, s) {
			return vq, badRequest("source %q is not a source; expected one of guest, vcpu, balloon, host, none", clip(s))
		}
		vq.Source = s
	}
	if s := q.Get("state"); s != "" {
		if !slices.Contains(wire.States, s) {
			return vq, badRequest("state %q is not a state; expected one of %s", clip(s), strings.Join(wire.States, ", "))
		}
		vq.State = s
	}
	if h := q.Get("host"); h != "" {
		id, err := checkID("host", h)
		if err != nil {
			return vq, err
		}
		vq.Host = id
	}
	order := ""
	if s := q.Get("sort"); s != "" {
		def, ok := vmSorts[s]
		if !ok {
			return vq, badRequest("sort %q is not a column; expected one of name, cpu, memory, net, disk, age", clip(s))
		}
		vq.Sort, order = s, def
	} else {
		order = vmSorts["name"]
	}
	switch o := q.Get("order"); o {
	case "":
	case "asc", "desc":
		order = o
	default:
		return vq, badRequest("order %q is neither asc nor desc", clip(o))
	}
	vq.Desc = order == "desc"
	var err error
	if vq.Labels, err = selection(r); err != nil {
		return vq, err
	}
	if vq.Limit, err = intParam(q, "limit", 1, maxLimit, defaultVMLimit); err != nil {
		return vq, err
	}
	if vq.Offset, err = intParam(q, "offset", 0, 1<<30, 0); err != nil {
		return vq, err
	}
	return vq, nil
}

// intParam reads an integer parameter in [lo, hi], def when absent.
func intParam(q url.Values, name string, lo, hi, def int) (int, error) {
	raw := q.Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s %q is not a whole number from %d to %d", name, clip(raw), lo, hi)
	}
	return n, nil
}

// rows returns every VM the caller of ctx may see with its latest sample
// and state: from the
// registry's cache (fresh after any write through this manager), so a
// page of 100,000 VMs costs no database read.
func (a *API) rows(ctx context.Context) ([]fleet.Row, error) {
	vms, err := a.currentVMs(ctx)
	if err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	rows := make([]fleet.Row, 0, len(vms))
	for i := range vms {
		if !sc.Matches(vms[i].Merged) {
			continue
		}
		rows = append(rows, fleet.Row{VM: &vms[i]})
		r := &rows[len(rows)-1]
		if a.opt.Samples != nil {
			r.S, r.Has = a.opt.Samples.Latest(r.VM.ID)
		}
		r.State = fleet.StateOf(r.VM, r.S, r.Has)
	}
	return rows, nil
}

// ownedRows are the rows this manager answers for in fleet-wide views:
// all of them when it is alone.
func (a *API) ownedRows(ctx context.Context) ([]fleet.Row, error) {
	rows, err := a.rows(ctx)
	if err != nil || !a.shared() {
		return rows, err
	}
	keep := rows[:0]
	for _, r := range rows {
		if a.opt.Cluster.Owns(r.VM) {
			keep = append(keep, r)
		}
	}
	return keep, nil
}

// clustered reports whether r's fleet-wide answer takes in the other
// managers': it shares the database and r is not itself a peer's request
// (a peer is answered with this manager's part, never passed on).
func (a *API) clustered(r *http.Request) bool {
	return a.shared() && (r == nil || r.Header.Get(PeerHeader) == "")
}

// currentVMs is every VM: the registry's cache (read only), or the store
// when there is none.
func (a *API) currentVMs(ctx context.Context) ([]store.VM, error) {
	if a.opt.Cache != nil {
		return a.opt.Cache.CurrentVMs(ctx)
	}
	return a.opt.Store.ListVMs(ctx)
}

// listPage answers GET /v1/vms with parameters: the matching VMs, sorted
// and paged, each with its state and latest sample.
func (a *API) listPage(w http.ResponseWriter, r *http.Request) error {
	maxLimit := maxVMLimit
	if r.Header.Get(PeerHeader) != "" && a.shared() {
		maxLimit = maxClusterWindow // a peer gathering a page asks for offset+limit
	}
	vq, err := parseVMQuery(r, maxLimit)
	if err != nil {
		return err
	}
	clustered := a.clustered(r)
	if clustered && vq.Offset+vq.Limit > maxClusterWindow {
		return badRequest("offset+limit is %d; with several managers a page ends within the first %d VMs: narrow the list with q, state, source or host",
			vq.Offset+vq.Limit, maxClusterWindow)
	}
	rows, err := a.ownedRows(r.Context())
	if err != nil {
		return err
	}
	var match []*fleet.Row
	for i := range rows {
		if vq.Matches(&rows[i]) {
			match = append(match, &rows[i])
		}
	}
	vq.SortRows(match)
	page := wire.VMPage{VMs: []wire.VMRow{}, Total: len(match), Offset: vq.Offset, Limit: vq.Limit}
	if clustered {
		// Each manager's first offset+limit, merged: the page is among them.
		match = match[:min(len(match), vq.Offset+vq.Limit)]
		q := withLabels(r.URL.Query(), vq.Labels)
		q.Set("offset", "0")
		q.Set("limit", strconv.Itoa(vq.Offset+vq.Limit))
		bodies, missing := a.opt.Cluster.AskOthers(r.Context(), "/v1/vms?"+q.Encode())
		page.MissingManagers = missing
		for _, b := range bodies {
			var p wire.VMPage
			if err := json.Unmarshal(b, &p); err != nil {
				continue
			}
			page.Total += p.Total
			for i := range p.VMs {
				match = append(match, fleet.PeerRow(&p.VMs[i]))
			}
		}
		vq.SortRows(match)
	}
	if vq.Offset < len(match) {
		for _, row := range match[vq.Offset:min(len(match), vq.Offset+vq.Limit)] {
			if row.Peer != nil {
				page.VMs = append(page.VMs, *row.Peer)
				continue
			}
			v := wire.VMRow{VM: a.viewWith(*row.VM, row.S, row.Has), State: row.State}
			if row.Has {
				s := row.S
				v.Latest = &s
			}
			page.VMs = append(page.VMs, v)
		}
	}
	return writeJSON(w, http.StatusOK, page)
}

// fleet answers GET /v1/fleet?label=&group_by=; a peer gets this
// manager's part, with every host agent (the asking manager cuts the
// merged list).
func (a *API) fleet(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for name, vals := range q {
		if name != "label" && name != "group_by" {
			return badRequest("unknown parameter %q; GET /v1/fleet takes label and group_by", clip(name))
		}
		if name == "group_by" && len(vals) != 1 {
			return badRequest("group_by is given %d times; expected it at most once", len(vals))
		}
	}
	sel, err := selection(r)
	if err != nil {
		return err
	}
	groupBy := q.Get("group_by")
	if q.Has("group_by") {
		if err := labels.CheckKey(groupBy); err != nil {
			return badRequest("group_by: %v", err)
		}
	}
	var f wire.Fleet
	if a.clustered(r) || !a.shared() {
		f, err = a.FleetOf(r.Context(), sel, groupBy)
	} else {
		f, err = a.localFleet(r.Context(), sel, groupBy, false)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f)
}

// Fleet summarises every VM: counts by state and source, the top VMs by
// each figure, and the host agents with their VMs. With managers sharing
// the database, it merges their parts.
func (a *API) Fleet(ctx context.Context) (wire.Fleet, error) {
	return a.FleetOf(ctx, labels.Selector{}, "")
}

// FleetOf is Fleet of the VMs sel picks (and the caller of ctx may see),
// grouped by the label groupBy when it is not "". The manager sends it on
// the fleet stream every few seconds, once for each selection its clients
// hold.
func (a *API) FleetOf(ctx context.Context, sel labels.Selector, groupBy string) (wire.Fleet, error) {
	sel = scopeOf(ctx).And(sel)
	if !a.shared() {
		return a.localFleet(ctx, sel, groupBy, true)
	}
	f, err := a.localFleet(ctx, sel, groupBy, false)
	if err != nil {
		return f, err
	}
	q := withLabels(url.Values{}, sel)
	if groupBy != "" {
		q.Set("group_by", groupBy)
	}
	path := "/v1/fleet"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	bodies, missing := a.opt.Cluster.AskOthers(ctx, path)
	f.MissingManagers = missing
	for _, b := range bodies {
		var p wire.Fleet
		if err := json.Unmarshal(b, &p); err != nil {
			continue
		}
		fleet.Merge(&f, &p)
	}
	fleet.Finish(&f)
	return f, nil
}

// localFleet is FleetOf the VMs this manager answers for; cut: the host
// agents cut to wire.FleetHosts. With a selection, only the host agents
// of selected VMs are shown: the fleet is as if it held those VMs only.
func (a *API) localFleet(ctx context.Context, sel labels.Selector, groupBy string, cut bool) (wire.Fleet, error) {
	rows, err := a.ownedRows(ctx)
	if err != nil {
		return wire.Fleet{}, err
	}
	if !sel.Empty() {
		rows = slices.DeleteFunc(rows, func(r fleet.Row) bool { return !sel.Matches(r.VM.Merged) })
	}
	f, perHost := fleet.Summarize(rows, a.opt.Now().UnixMilli())
	if groupBy != "" {
		f.GroupBy, f.Groups = groupBy, fleet.Group(rows, groupBy)
		if f.Groups == nil {
			f.Groups = []wire.FleetGroup{}
		}
	}
	f.Hosts, f.HostsTotal, err = a.fleetHosts(ctx, perHost, cut, !sel.Empty())
	return f, err
}

// fleetHosts lists the host agents for the fleet view: those not
// answering first, then by VM count.
func (a *API) fleetHosts(ctx context.Context, perHost map[string]*wire.FleetHost, cut, selected bool) ([]wire.FleetHost, int, error) {
	hs, err := a.opt.Store.ListHosts(ctx)
	if errors.Is(err, store.ErrUnavailable) {
		return []wire.FleetHost{}, 0, nil // the VM figures still stand
	}
	if err != nil {
		return nil, 0, err
	}
	out := make([]wire.FleetHost, 0, len(hs))
	for _, h := range hs {
		v := a.hostView(h)
		fh := wire.FleetHost{ID: h.ID, Name: v.Name, URL: h.URL, Reachable: v.Reachable, LastError: v.LastError}
		if c := perHost[h.ID]; c != nil {
			fh.VMs, fh.Live = c.VMs, c.Live
		} else if selected {
			continue
		}
		out = append(out, fh)
	}
	fleet.SortHosts(out)
	if !cut {
		return out, len(out), nil
	}
	return out[:min(len(out), wire.FleetHosts)], len(out), nil
}
