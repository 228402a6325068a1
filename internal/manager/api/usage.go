package api

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
	"github.com/fcmon/fcmon/internal/manager/usage"
)

// maxUsageSpanMs bounds a usage request: the rollups of a year.
const maxUsageSpanMs = 366 * 24 * 3600 * 1000

// usage answers GET /v1/usage?since=&until=&group_by=vm|label:<key>&format=json|csv
// &label=: each VM's (or each label value's) usage over whole minutes of
// the range, from the rollups, of the VMs the caller may see.
func (a *API) usage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for name, vals := range q {
		switch name {
		case "since", "until", "group_by", "format":
			if len(vals) != 1 {
				return badRequest("%s is given %d times; expected it at most once", name, len(vals))
			}
		case "label":
		default:
			return badRequest("unknown parameter %q; expected since, until, group_by, format, label", clip(name))
		}
	}
	now := a.opt.Now().UnixMilli()
	since, err := a.msParam(q, "since")
	if err != nil {
		return err
	}
	until, err := a.msParam(q, "until")
	if err != nil {
		return err
	}
	for name, v := range map[string]int64{"since": since, "until": until} {
		if v != 0 && (v < minTimeMs || v > maxTimeMs) {
			return badRequest("%s %d is not a Unix time in milliseconds between 2000-01-01 and 9999-12-31 (now is %d)", name, v, now)
		}
	}
	if until == 0 {
		until = now
	}
	if since == 0 {
		since = until - 24*3600*1000
	}
	since, until = since/60000*60000, until/60000*60000 // whole minutes
	if since >= until || until-since > maxUsageSpanMs {
		return badRequest("since %d and until %d: want since before until, whole minutes apart, at most 366 days", since, until)
	}
	groupBy, key := q.Get("group_by"), ""
	switch {
	case groupBy == "" || groupBy == "vm":
		groupBy = "vm"
	case strings.HasPrefix(groupBy, "label:"):
		key = strings.TrimPrefix(groupBy, "label:")
		if err := labels.CheckKey(key); err != nil {
			return badRequest("group_by: %v", err)
		}
	default:
		return badRequest("group_by %q is neither vm nor label:<name> (such as label:tenant)", clip(groupBy))
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return badRequest("format %q is neither json nor csv", clip(format))
	}
	sel, err := selection(r)
	if err != nil {
		return err
	}
	rows, err := a.rows(r.Context())
	if err != nil {
		return err
	}
	vms := map[string]*store.VM{}
	for i := range rows {
		if sel.Matches(rows[i].VM.Merged) {
			vms[rows[i].VM.ID] = rows[i].VM
		}
	}
	per := map[string]*usage.Row{}
	interval := a.opt.PollInterval.Seconds()
	if interval <= 0 {
		interval = 1
	}
	err = a.opt.Store.EachRollup(r.Context(), since, until, func(m store.Rollup) error {
		vm := vms[m.VMID]
		if vm == nil {
			return nil
		}
		u := per[m.VMID]
		if u == nil {
			u = &usage.Row{UsageRow: wire.UsageRow{VMID: vm.ID, VMName: vm.Name}}
			per[m.VMID] = u
		}
		u.Add(&m, interval)
		return nil
	})
	if err != nil {
		return err
	}
	var result []usage.Row
	if key == "" {
		for _, u := range per {
			u.Finish()
			result = append(result, *u)
		}
	} else {
		groups := map[string]*usage.Row{}
		for id, u := range per {
			v, has := vms[id].Merged[key]
			k := "=" + v
			if !has {
				k = ""
			}
			g := groups[k]
			if g == nil {
				g = &usage.Row{UsageRow: wire.UsageRow{Value: v, Missing: !has}}
				groups[k] = g
			}
			g.Merge(u)
		}
		for _, g := range groups {
			g.Finish()
			result = append(result, *g)
		}
	}
	usage.Sort(result)
	out := wire.Usage{SinceMs: since, UntilMs: until, GroupBy: groupBy, Rows: make([]wire.UsageRow, len(result))}
	for i := range result {
		out.Rows[i] = result[i].UsageRow
	}
	if format != "csv" {
		return writeJSON(w, http.StatusOK, out)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="fcmon-usage.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(usage.Columns)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, u := range out.Rows {
		_ = cw.Write([]string{u.VMID, u.VMName, u.Value, f(u.VCPUSecondsUsed), f(u.VCPUSecondsAllocated),
			f(u.MemoryGiBSecondsAllocated), f(u.MemoryGiBSecondsUsed), f(u.NetworkBytes), f(u.DiskBytes), u.Source, f(u.Seconds)})
	}
	cw.Flush()
	return cw.Error()
}
