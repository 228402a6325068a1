// Package fleet is the manager's read model of the fleet: rows of VMs with
// their latest samples, filtered, sorted and paged as GET /v1/vms asks;
// the summary of GET /v1/fleet (counts by state and source, the top VMs by
// each figure, the host agents with their VMs); and the merging of the
// parts other managers sharing the database answer. Plain functions over
// rows: the API parses requests and renders JSON.
package fleet

import (
	"cmp"
	"slices"
	"strings"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Query is a checked GET /v1/vms query: search, filters, sort and page.
type Query struct {
	Q, Source, State, Host, Sort string
	// Labels picks VMs by their labels (store.VM.Merged).
	Labels        labels.Selector
	Desc          bool
	Limit, Offset int
}

// Row is a VM with its latest sample, as lists and counts need it.
type Row struct {
	VM    *store.VM // shared with the registry's cache: read only
	S     wire.CombinedSample
	Has   bool
	State string
	// The sort column's figure, computed once before sorting.
	key    float64
	hasKey bool
	// Peer is the row as another manager answered it (clustered pages).
	Peer *wire.VMRow
}

// StateOf is the state a VM is in with its latest sample (has: it has one).
func StateOf(vm *store.VM, s wire.CombinedSample, has bool) string {
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

// PeerRow makes a row another manager answered sortable with this
// manager's own: what the sort reads of the VM, and the sample.
func PeerRow(v *wire.VMRow) *Row {
	r := &Row{VM: &store.VM{ID: v.ID, Name: v.Name, HostID: v.HostID, CreatedMs: v.CreatedMs, GoneMs: v.GoneMs, Merged: v.Labels},
		State: v.State, Peer: v}
	if v.Latest != nil {
		r.S, r.Has = *v.Latest, true
	}
	return r
}

// Matches reports whether the query's search and filters take r.
func (vq *Query) Matches(r *Row) bool {
	if vq.State != "" && r.State != vq.State {
		return false
	}
	if vq.Host != "" && r.VM.HostID != vq.Host {
		return false
	}
	if !vq.Labels.Matches(r.VM.Merged) {
		return false
	}
	if vq.Source != "" {
		cpu, mem := wire.SourceNone, wire.SourceNone
		if r.Has && r.VM.GoneMs == 0 {
			cpu, mem = r.S.Source, r.S.MemorySource
		}
		if cpu != vq.Source && mem != vq.Source {
			return false
		}
	}
	if vq.Q != "" {
		return containsFold(r.VM.Name, vq.Q) || containsFold(r.VM.ID, vq.Q) ||
			containsFold(r.VM.GuestIP, vq.Q) || containsFold(r.VM.HostVMID, vq.Q)
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

// SortRows orders rows by the query's column. VMs without the figure come
// last in either order; ties go by name, then id.
func (vq *Query) SortRows(rows []*Row) {
	key := figure(vq.Sort)
	if key != nil {
		for _, r := range rows {
			r.key, r.hasKey = key(r)
		}
	}
	if vq.Sort == "name" && !vq.Desc && slices.IsSortedFunc(rows, func(x, y *Row) int { return byName(x.VM, y.VM) }) {
		return // the registry's order already (one pass instead of a sort)
	}
	slices.SortFunc(rows, func(x, y *Row) int {
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
		case vq.Sort == "age": // youngest first
			c = cmp.Compare(y.VM.CreatedMs, x.VM.CreatedMs)
		default:
			c = byName(x.VM, y.VM)
		}
		if vq.Desc {
			c = -c
		}
		if c == 0 { // ties keep name order whichever way the figure goes
			c = byName(x.VM, y.VM)
		}
		return c
	})
}

func byName(x, y *store.VM) int {
	return cmp.Or(Natural(x.Name, y.Name), strings.Compare(x.Name, y.Name), strings.Compare(x.ID, y.ID))
}

// Natural compares names as people read them: runs of digits by their
// value, so vm-2 comes before vm-10 and vm-1000; the rest byte by byte.
// Equal values with other digits (vm-01, vm-1) tie here; the caller breaks
// the tie.
func Natural(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), strings.Compare(na, nb)); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

// digits is the length of the run of ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// figure returns how to read a sort column's figure from a row (false:
// the VM has none, as before its first sample or once gone); nil for
// name and age.
func figure(sort string) func(*Row) (float64, bool) {
	live := func(r *Row) bool { return r.Has && r.VM.GoneMs == 0 }
	switch sort {
	case "cpu":
		return func(r *Row) (float64, bool) {
			if !live(r) || r.S.CPUUsagePercent == nil {
				return 0, false
			}
			return *r.S.CPUUsagePercent, true
		}
	case "memory":
		return func(r *Row) (float64, bool) {
			if !live(r) || r.S.MemoryUsagePercent == nil {
				return 0, false
			}
			return *r.S.MemoryUsagePercent, true
		}
	case "net":
		return func(r *Row) (float64, bool) {
			if !live(r) || r.S.Network == nil {
				return 0, false
			}
			return r.S.Network.RxBytesPerSec + r.S.Network.TxBytesPerSec, true
		}
	case "disk":
		return func(r *Row) (float64, bool) {
			if !live(r) || r.S.Disk == nil {
				return 0, false
			}
			return r.S.Disk.ReadBytesPerSec + r.S.Disk.WriteBytesPerSec, true
		}
	}
	return nil
}

// Merge adds another manager's part p to f: counts add up, the top
// lists join (cut by the caller), and each host agent's VMs add up, with
// the word of the manager collecting it on whether it answers.
func Merge(f, p *wire.Fleet) {
	f.VMs += p.VMs
	f.Direct += p.Direct
	for _, m := range []struct{ to, from map[string]int }{{f.ByState, p.ByState}, {f.BySource, p.BySource}, {f.ByMemorySource, p.ByMemorySource}} {
		for k, n := range m.from {
			if _, known := m.to[k]; known {
				m.to[k] += n
			}
		}
	}
	mergeGroups(f, p)
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

// Summarize counts rows by state and source and finds the top VMs by each
// figure (at nowMs); it returns the VMs of each host agent too, which
// Hosts puts beside the host agents.
func Summarize(rows []Row, nowMs int64) (wire.Fleet, map[string]*wire.FleetHost) {
	f := wire.Fleet{GeneratedMs: nowMs, VMs: len(rows),
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
	keys := [4]func(*Row) (float64, bool){figure("cpu"), figure("memory"), figure("net"), figure("disk")}
	perHost := map[string]*wire.FleetHost{}
	for i := range rows {
		row := &rows[i]
		f.ByState[row.State]++
		cpu, mem := wire.SourceNone, wire.SourceNone
		if row.Has && row.State != wire.StateGone {
			cpu, mem = row.S.Source, row.S.MemorySource
		}
		f.BySource[cpu]++
		f.ByMemorySource[mem]++
		if row.VM.HostID == "" {
			f.Direct++
		} else if row.State != wire.StateGone {
			h := perHost[row.VM.HostID]
			if h == nil {
				h = &wire.FleetHost{ID: row.VM.HostID}
				perHost[row.VM.HostID] = h
			}
			h.VMs++
			if row.State == wire.StateLive {
				h.Live++
			}
		}
		if row.State != wire.StateLive {
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
	return f, perHost
}

// Finish orders a fleet merged from several managers' parts: the top lists
// by value (then name and id) cut to wire.FleetTopN, and the host agents
// (SortHosts) cut to wire.FleetHosts, HostsTotal counting them all.
func Finish(f *wire.Fleet) {
	for _, top := range []*[]wire.FleetVM{&f.Top.CPU, &f.Top.Memory, &f.Top.Network, &f.Top.Disk} {
		slices.SortStableFunc(*top, func(x, y wire.FleetVM) int {
			return cmp.Or(cmp.Compare(y.Value, x.Value), strings.Compare(x.Name, y.Name), strings.Compare(x.ID, y.ID))
		})
		*top = (*top)[:min(len(*top), wire.FleetTopN)]
	}
	SortGroups(f.Groups)
	SortHosts(f.Hosts)
	f.HostsTotal = len(f.Hosts)
	f.Hosts = f.Hosts[:min(len(f.Hosts), wire.FleetHosts)]
}

// SortHosts puts the host agents not answering first, then those
// with the most VMs.
func SortHosts(hs []wire.FleetHost) {
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

func cpuSource(r *Row) string  { return r.S.Source }
func memSource(r *Row) string  { return r.S.MemorySource }
func netSource(r *Row) string  { return r.S.Network.Source }
func diskSource(r *Row) string { return r.S.Disk.Source }

// topN keeps the wire.FleetTopN rows with the highest values, in a small
// sorted slice: one comparison for most rows.
type topN struct {
	rows []*Row
	vals []float64
}

func (t *topN) offer(r *Row, v float64) {
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

func (t *topN) list(source func(*Row) string) []wire.FleetVM {
	out := make([]wire.FleetVM, len(t.rows))
	for i, r := range t.rows {
		out[i] = wire.FleetVM{ID: r.VM.ID, Name: r.VM.Name, HostID: r.VM.HostID, Value: t.vals[i], Source: source(r)}
	}
	return out
}
