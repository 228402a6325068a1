package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fcmon/fcmon/internal/core/wire"
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

var vmListParams = []string{"q", "source", "state", "host", "sort", "order", "limit", "offset"}

// vmQuery is a checked GET /v1/vms query.
type vmQuery struct {
	q, source, state, host, sort string
	desc                         bool
	limit, offset                int
}

// parseVMQuery checks the parameters of a paged VM list; limit may be up
// to maxLimit.
func parseVMQuery(q url.Values, maxLimit int) (vmQuery, error) {
	vq := vmQuery{sort: "name", limit: defaultVMLimit}
	for name, vals := range q {
		if !slices.Contains(vmListParams, name) {
			return vq, badRequest("unknown parameter %q; expected %s", clip(name), strings.Join(vmListParams, ", "))
		}
		if len(vals) != 1 {
			return vq, badRequest("%s is given %d times; expected it at most once", name, len(vals))
		}
	}
	vq.q = strings.ToLower(strings.TrimSpace(q.Get("q")))
	if len(vq.q) > maxSearchBytes {
		return vq, badRequest("q is %d bytes long; at most %d", len(vq.q), maxSearchBytes)
	}
	if s := q.Get("source"); s != "" {
		if !slices.Contains(wire.CPUSources, s) && !slices.Contains(wire.MemorySources, s) {
			return vq, badRequest("source %q is not a source; expected one of guest, vcpu, balloon, host, none", clip(s))
		}
		vq.source = s
	}
	if s := q.Get("state"); s != "" {
		if !slices.Contains(wire.States, s) {
			return vq, badRequest("state %q is not a state; expected one of %s", clip(s), strings.Join(wire.States, ", "))
		}
		vq.state = s
	}
	if h := q.Get("host"); h != "" {
		id, err := checkID("host", h)
		if err != nil {
			return vq, err
		}
		vq.host = id
	}
	order := ""
	if s := q.Get("sort"); s != "" {
		def, ok := vmSorts[s]
		if !ok {
			return vq, badRequest("sort %q is not a column; expected one of name, cpu, memory, net, disk, age", clip(s))
		}
		vq.sort, order = s, def
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
	vq.desc = order == "desc"
	var err error
	if vq.limit, err = intParam(q, "limit", 1, maxLimit, defaultVMLimit); err != nil {
		return vq, err
	}
	if vq.offset, err = intParam(q, "offset", 0, 1<<30, 0); err != nil {
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

// fleetRow is a VM with its latest sample, as lists and counts need it.
type fleetRow struct {
	vm    *store.VM // shared with the registry's cache: read only
	s     wire.CombinedSample
	has   bool
	state string
	// The sort column's figure, computed once before sorting.
	key    float64
	hasKey bool
	// peer is the row as another manager answered it (clustered pages).
	peer *wire.VMRow
}

// rows returns every VM with its latest sample and state: from the
// registry's cache (fresh after any write through this manager), so a
// page of 100,000 VMs costs no database read.
func (a *API) rows(ctx context.Context) ([]fleetRow, error) {
	vms, err := a.currentVMs(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]fleetRow, len(vms))
	for i := range vms {
		r := &rows[i]
		r.vm = &vms[i]
		if a.opt.Samples != nil {
			r.s, r.has = a.opt.Samples.Latest(r.vm.ID)
		}
		r.state = vmState(r.vm, r.s, r.has)
	}
	return rows, nil
}

// ownedRows are the rows this manager answers for in fleet-wide views:
// all of them when it is alone.
func (a *API) ownedRows(ctx context.Context) ([]fleetRow, error) {
	rows, err := a.rows(ctx)
	if err != nil || !a.shared() {
		return rows, err
	}
	keep := rows[:0]
	for _, r := range rows {
		if a.opt.Cluster.Owns(r.vm) {
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

func vmState(vm *store.VM, s wire.CombinedSample, has bool) string {
	switch {
	case vm.GoneMs != 0:
		return wire.StateGone
	case !has:
		return wire.StatePending
	case s.Stale:
		return wire.StateStale
	}
	return wire.StateLive
}

// listPage answers GET /v1/vms with parameters: the matching VMs, sorted
// and paged, each with its state and latest sample.
func (a *API) listPage(w http.ResponseWriter, r *http.Request) error {
	maxLimit := maxVMLimit
	if r.Header.Get(PeerHeader) != "" && a.shared() {
		maxLimit = maxClusterWindow // a peer gathering a page asks for offset+limit
	}
	vq, err := parseVMQuery(r.URL.Query(), maxLimit)
	if err != nil {
		return err
	}
	clustered := a.clustered(r)
	if clustered && vq.offset+vq.limit > maxClusterWindow {
		return badRequest("offset+limit is %d; with several managers a page ends within the first %d VMs: narrow the list with q, state, source or host",
			vq.offset+vq.limit, maxClusterWindow)
	}
	rows, err := a.ownedRows(r.Context())
	if err != nil {
		return err
	}
	var match []*fleetRow
	for i := range rows {
		if vq.matches(&rows[i]) {
			match = append(match, &rows[i])
		}
	}
	vq.sortRows(match)
	page := wire.VMPage{VMs: []wire.VMRow{}, Total: len(match), Offset: vq.offset, Limit: vq.limit}
	if clustered {
		// Each manager's first offset+limit, merged: the page is among them.
		match = match[:min(len(match), vq.offset+vq.limit)]
		q := r.URL.Query()
		q.Set("offset", "0")
		q.Set("limit", strconv.Itoa(vq.offset+vq.limit))
		bodies, missing := a.opt.Cluster.AskOthers(r.Context(), "/v1/vms?"+q.Encode())
		page.MissingManagers = missing
		for _, b := range bodies {
			var p wire.VMPage
			if err := json.Unmarshal(b, &p); err != nil {
				continue
			}
			page.Total += p.Total
			for i := range p.VMs {
				match = append(match, peerRow(&p.VMs[i]))
			}
		}
		vq.sortRows(match)
	}
	if vq.offset < len(match) {
		for _, row := range match[vq.offset:min(len(match), vq.offset+vq.limit)] {
			if row.peer != nil {
				page.VMs = append(page.VMs, *row.peer)
				continue
			}
			v := wire.VMRow{VM: a.viewWith(*row.vm, row.s, row.has), State: row.state}
			if row.has {
				s := row.s
				v.Latest = &s
			}
			page.VMs = append(page.VMs, v)
		}
	}
	return writeJSON(w, http.StatusOK, page)
}

// peerRow makes a row another manager answered sortable with this
// manager's own: what the sort reads of the VM, and the sample.
func peerRow(v *wire.VMRow) *fleetRow {
	r := &fleetRow{vm: &store.VM{ID: v.ID, Name: v.Name, HostID: v.HostID, CreatedMs: v.CreatedMs, GoneMs: v.GoneMs},
		state: v.State, peer: v}
	if v.Latest != nil {
		r.s, r.has = *v.Latest, true
	}
	return r
}

func (vq *vmQuery) matches(r *fleetRow) bool {
	if vq.state != "" && r.state != vq.state {
		return false
	}
	if vq.host != "" && r.vm.HostID != vq.host {
		return false
	}
	if vq.source != "" {
		cpu, mem := wire.SourceNone, wire.SourceNone
		if r.has && r.vm.GoneMs == 0 {
			cpu, mem = r.s.Source, r.s.MemorySource
		}
		if cpu != vq.source && mem != vq.source {
			return false
		}
	}
	if vq.q != "" {
		return containsFold(r.vm.Name, vq.q) || containsFold(r.vm.ID, vq.q) ||
			containsFold(r.vm.GuestIP, vq.q) || containsFold(r.vm.HostVMID, vq.q)
	}
	return true
}

// containsFold reports whether s contains sub, which is lower case,
// ignoring ASCII case without allocating for the common ASCII names.
func containsFold(s, sub string) bool {
	if len(sub) > len(s) {
		return false
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// sortRows orders rows by the query's column. VMs without the figure come
// last in either order; ties go by name, then id.
func (vq *vmQuery) sortRows(rows []*fleetRow) {
	key := figure(vq.sort)
	if key != nil {
		for _, r := range rows {
			r.key, r.hasKey = key(r)
		}
	}
	if vq.sort == "name" && !vq.desc && slices.IsSortedFunc(rows, func(x, y *fleetRow) int { return byName(x.vm, y.vm) }) {
		return // the registry's order already (one pass instead of a sort)
	}
	slices.SortFunc(rows, func(x, y *fleetRow) int {
		c := 0
		switch {
		case key != nil:
			if x.hasKey != y.hasKey { // the VM without the figure last, either order
				if x.hasKey {
					return -1
				}
				return 1
			}
			c = cmp.Compare(x.key, y.key)
		case vq.sort == "age": // youngest first
			c = cmp.Compare(y.vm.CreatedMs, x.vm.CreatedMs)
		default:
			c = byName(x.vm, y.vm)
		}
		if vq.desc {
			c = -c
		}
		if c == 0 { // ties keep name order whichever way the figure goes
			c = byName(x.vm, y.vm)
		}
		return c
	})
}

func byName(x, y *store.VM) int {
	return cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.ID, y.ID))
}

// figure returns how to read a sort column's figure from a row (false:
// the VM has none, as before its first sample or once gone); nil for
// name and age.
func figure(sort string) func(*fleetRow) (float64, bool) {
	live := func(r *fleetRow) bool { return r.has && r.vm.GoneMs == 0 }
	switch sort {
	case "cpu":
		return func(r *fleetRow) (float64, bool) {
			if !live(r) || r.s.CPUUsagePercent == nil {
				return 0, false
			}
			return *r.s.CPUUsagePercent, true
		}
	case "memory":
		return func(r *fleetRow) (float64, bool) {
			if !live(r) || r.s.MemoryUsagePercent == nil {
				return 0, false
			}
			return *r.s.MemoryUsagePercent, true
		}
	case "net":
		return func(r *fleetRow) (float64, bool) {
			if !live(r) || r.s.Network == nil {
				return 0, false
			}
			return r.s.Network.RxBytesPerSec + r.s.Network.TxBytesPerSec, true
		}
	case "disk":
		return func(r *fleetRow) (float64, bool) {
			if !live(r) || r.s.Disk == nil {
				return 0, false
			}
			return r.s.Disk.ReadBytesPerSec + r.s.Disk.WriteBytesPerSec, true
		}
	}
	return nil
}

// fleet answers GET /v1/fleet; a peer gets this manager's part, with
// every host agent (the asking manager cuts the merged list).
func (a *API) fleet(w http.ResponseWriter, r *http.Request) error {
	if len(r.URL.Query()) > 0 {
		return badRequest("GET /v1/fleet takes no parameters")
	}
	var f wire.Fleet
	var err error
	if a.clustered(r) || !a.shared() {
		f, err = a.Fleet(r.Context())
	} else {
		f, err = a.localFleet(r.Context(), false)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f)
}

// Fleet summarises every VM: counts by state and source, the top VMs by
// each figure, and the host agents with their VMs. The manager also sends
// it on the fleet stream every few seconds. With managers sharing the
// database, it merges their parts.
func (a *API) Fleet(ctx context.Context) (wire.Fleet, error) {
	if !a.shared() {
		return a.localFleet(ctx, true)
	}
	f, err := a.localFleet(ctx, false)
	if err != nil {
		return f, err
	}
	bodies, missing := a.opt.Cluster.AskOthers(ctx, "/v1/fleet")
	f.MissingManagers = missing
	for _, b := range bodies {
		var p wire.Fleet
		if err := json.Unmarshal(b, &p); err != nil {
			continue
		}
		mergeFleet(&f, &p)
	}
	for _, top := range []*[]wire.FleetVM{&f.Top.CPU, &f.Top.Memory, &f.Top.Network, &f.Top.Disk} {
		slices.SortStableFunc(*top, func(x, y wire.FleetVM) int {
			return cmp.Or(cmp.Compare(y.Value, x.Value), strings.Compare(x.Name, y.Name), strings.Compare(x.ID, y.ID))
		})
		*top = (*top)[:min(len(*top), wire.FleetTopN)]
	}
	sortFleetHosts(f.Hosts)
	f.HostsTotal = len(f.Hosts)
	f.Hosts = f.Hosts[:min(len(f.Hosts), wire.FleetHosts)]
	return f, nil
}

// mergeFleet adds another manager's part p to f: counts add up, the top
// lists join (cut by the caller), and each host agent's VMs add up, with
// the word of the manager collecting it on whether it answers.
func mergeFleet(f, p *wire.Fleet) {
	f.VMs += p.VMs
	f.Direct += p.Direct
	for _, m := range []struct{ to, from map[string]int }{{f.ByState, p.ByState}, {f.BySource, p.BySource}, {f.ByMemorySource, p.ByMemorySource}} {
		for k, n := range m.from {
			if _, known := m.to[k]; known {
				m.to[k] += n
			}
		}
	}
	f.Top.CPU = append(f.Top.CPU, p.Top.CPU...)
	f.Top.Memory = append(f.Top.Memory, p.Top.Memory...)
	f.Top.Network = append(f.Top.Network, p.Top.Network...)
	f.Top.Disk = append(f.Top.Disk, p.Top.Disk...)
	at := make(map[string]int, len(f.Hosts))
	for i, h := range f.Hosts {
		at[h.ID] = i
	}
	for _, h := range p.Hosts {
		i, ok := at[h.ID]
		if !ok {
			at[h.ID] = len(f.Hosts)
			f.Hosts = append(f.Hosts, h)
			continue
		}
		mine := &f.Hosts[i]
		mine.VMs += h.VMs
		mine.Live += h.Live
		if h.Reachable { // only the manager collecting a host agent reaches it
			mine.Reachable, mine.LastError = true, ""
		} else if !mine.Reachable && mine.LastError == "" {
			mine.LastError = h.LastError
		}
	}
}

// localFleet is Fleet of the VMs this manager answers for; cut: the host
// agents cut to wire.FleetHosts.
func (a *API) localFleet(ctx context.Context, cut bool) (wire.Fleet, error) {
	rows, err := a.ownedRows(ctx)
	if err != nil {
		return wire.Fleet{}, err
	}
	f := wire.Fleet{GeneratedMs: a.opt.Now().UnixMilli(), VMs: len(rows),
		ByState: map[string]int{}, BySource: map[string]int{}, ByMemorySource: map[string]int{}}
	for _, s := range wire.States {
		f.ByState[s] = 0
	}
	for _, s := range wire.CPUSources {
		f.BySource[s] = 0
	}
	for _, s := range wire.MemorySources {
		f.ByMemorySource[s] = 0
	}
	tops := [4]topN{}
	keys := [4]func(*fleetRow) (float64, bool){figure("cpu"), figure("memory"), figure("net"), figure("disk")}
	perHost := map[string]*wire.FleetHost{}
	for i := range rows {
		row := &rows[i]
		f.ByState[row.state]++
		cpu, mem := wire.SourceNone, wire.SourceNone
		if row.has && row.state != wire.StateGone {
			cpu, mem = row.s.Source, row.s.MemorySource
		}
		f.BySource[cpu]++
		f.ByMemorySource[mem]++
		if row.vm.HostID == "" {
			f.Direct++
		} else if row.state != wire.StateGone {
			h := perHost[row.vm.HostID]
			if h == nil {
				h = &wire.FleetHost{ID: row.vm.HostID}
				perHost[row.vm.HostID] = h
			}
			h.VMs++
			if row.state == wire.StateLive {
				h.Live++
			}
		}
		if row.state != wire.StateLive {
			continue
		}
		for k, key := range keys {
			if v, ok := key(row); ok {
				tops[k].offer(row, v)
			}
		}
	}
	f.Top = wire.FleetTop{CPU: tops[0].list(cpuSource), Memory: tops[1].list(memSource),
		Network: tops[2].list(netSource), Disk: tops[3].list(diskSource)}
	f.Hosts, f.HostsTotal, err = a.fleetHosts(ctx, perHost, cut)
	return f, err
}

// fleetHosts lists the host agents for the fleet view: those not
// answering first, then by VM count.
func (a *API) fleetHosts(ctx context.Context, perHost map[string]*wire.FleetHost, cut bool) ([]wire.FleetHost, int, error) {
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
		}
		out = append(out, fh)
	}
	sortFleetHosts(out)
	if !cut {
		return out, len(out), nil
	}
	return out[:min(len(out), wire.FleetHosts)], len(out), nil
}

// sortFleetHosts puts the host agents not answering first, then those
// with the most VMs.
func sortFleetHosts(hs []wire.FleetHost) {
	slices.SortFunc(hs, func(x, y wire.FleetHost) int {
		if x.Reachable != y.Reachable {
			if !x.Reachable {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(y.VMs, x.VMs), strings.Compare(x.URL, y.URL))
	})
}

func cpuSource(r *fleetRow) string  { return r.s.Source }
func memSource(r *fleetRow) string  { return r.s.MemorySource }
func netSource(r *fleetRow) string  { return r.s.Network.Source }
func diskSource(r *fleetRow) string { return r.s.Disk.Source }

// topN keeps the wire.FleetTopN rows with the highest values, in a small
// sorted slice: one comparison for most rows.
type topN struct {
	rows []*fleetRow
	vals []float64
}

func (t *topN) offer(r *fleetRow, v float64) {
	n := len(t.vals)
	if n == wire.FleetTopN && v <= t.vals[n-1] {
		return
	}
	i, _ := slices.BinarySearchFunc(t.vals, v, func(e, target float64) int { return cmp.Compare(target, e) })
	// Equal values keep the earlier (name order) row first.
	for i < n && t.vals[i] == v {
		i++
	}
	t.vals = slices.Insert(t.vals, i, v)
	t.rows = slices.Insert(t.rows, i, r)
	if len(t.vals) > wire.FleetTopN {
		t.vals, t.rows = t.vals[:wire.FleetTopN], t.rows[:wire.FleetTopN]
	}
}

func (t *topN) list(source func(*fleetRow) string) []wire.FleetVM {
	out := make([]wire.FleetVM, len(t.rows))
	for i, r := range t.rows {
		out[i] = wire.FleetVM{ID: r.vm.ID, Name: r.vm.Name, HostID: r.vm.HostID, Value: t.vals[i], Source: source(r)}
	}
	return out
}
