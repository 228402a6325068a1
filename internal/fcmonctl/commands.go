package fcmonctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fcmon/fcmon/internal/core/tick"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// strs is a flag that may be given more than once.
type strs []string

func (s *strs) String() string     { return strings.Join(*s, ",") }
func (s *strs) Set(v string) error { *s = append(*s, v); return nil }

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// pct is a percentage for a table, "-" for none.
func pct(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64) + "%"
}

// bytesOf is a size for a table in binary units.
func bytesOf(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(b, 'f', 0, 64) + " B"
	}
	return strconv.FormatFloat(b, 'f', 1, 64) + " " + units[i]
}

// memory is a sample's memory in use of its total, "-" for none.
func memory(s *wire.CombinedSample) string {
	if s == nil || s.MemoryUsedKB == nil {
		return "-"
	}
	out := bytesOf(float64(*s.MemoryUsedKB) * 1024)
	if s.MemoryTotalKB != nil {
		out += " / " + bytesOf(float64(*s.MemoryTotalKB)*1024)
	}
	return out
}

// labelsOf is a VM's labels as k=v,k=v, sorted.
func labelsOf(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}

func vmsCommand() command {
	var label strs
	var sort, order, state, host, search string
	var limit int
	return command{
		name: "vms",
		flags: func(fs *flag.FlagSet) {
			fs.Var(&label, "label", "only VMs with this label, key=value (repeat for all of several)")
			fs.StringVar(&sort, "sort", "name", "name, cpu, memory, net, disk or age")
			fs.StringVar(&order, "order", "", "asc or desc (default: the column's own)")
			fs.StringVar(&state, "state", "", "only VMs in this state: live, stale, pending or gone")
			fs.StringVar(&host, "host", "", "only the VMs of this host agent (its id)")
			fs.StringVar(&search, "q", "", "only VMs whose name or id contains this")
			fs.IntVar(&limit, "limit", 100, "at most this many VMs (up to 1000)")
		},
		run: func(ctx context.Context, c *client, g *globals, _ []string) error {
			q := url.Values{"sort": {sort}, "limit": {strconv.Itoa(limit)}}
			for k, v := range map[string]string{"order": order, "state": state, "host": host, "q": search} {
				if v != "" {
					q.Set(k, v)
				}
			}
			for _, l := range label {
				q.Add("label", l)
			}
			var page wire.VMPage
			raw, err := c.getJSON(ctx, "/v1/vms", q, &page)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, raw)
			}
			tw := table(g.stdout)
			fmt.Fprintln(tw, "NAME\tID\tSTATE\tCPU\tMEMORY\tSOURCE\tHOST\tLABELS")
			for _, r := range page.VMs {
				var cpu *float64
				if r.Latest != nil {
					cpu = r.Latest.CPUUsagePercent
				}
				host := r.HostID
				if host == "" {
					host = "-"
				} else if len(host) > 8 {
					host = host[:8]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.ID, r.State, pct(cpu), memory(r.Latest), r.Source, host, labelsOf(r.Labels))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if n := len(page.VMs); n < page.Total {
				fmt.Fprintf(g.stdout, "(%d of %d VMs; --limit and --q narrow it)\n", n, page.Total)
			}
			if len(page.MissingManagers) > 0 {
				fmt.Fprintf(g.stdout, "(the VMs of managers %s are missing: they did not answer)\n", strings.Join(page.MissingManagers, ", "))
			}
			return nil
		},
	}
}

// resolve is the id of the VM idOrName names: an id as it is, a name by
// the VMs whose name it is exactly (an error when none or several).
func resolve(ctx context.Context, c *client, idOrName string) (string, error) {
	if len(idOrName) == 36 && strings.Count(idOrName, "-") == 4 {
		return idOrName, nil
	}
	var page wire.VMPage
	if _, err := c.getJSON(ctx, "/v1/vms", url.Values{"q": {idOrName}, "limit": {"1000"}}, &page); err != nil {
		return "", err
	}
	var ids []string
	for _, r := range page.VMs {
		if r.Name == idOrName {
			ids = append(ids, r.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("no VM is named %q (fcmonctl vms --q %s lists those whose name contains it)", idOrName, idOrName)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("%d VMs are named %q: give the id (%s)", len(ids), idOrName, strings.Join(ids, ", "))
}

func vmCommand() command {
	var events int
	return command{
		name: "vm", args: 1, argsUsage: "ID|NAME",
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&events, "events", 10, "how many of its latest events to show")
		},
		run: func(ctx context.Context, c *client, g *globals, args []string) error {
			id, err := resolve(ctx, c, args[0])
			if err != nil {
				return err
			}
			var vm wire.VM
			rawVM, err := c.getJSON(ctx, "/v1/vms/"+url.PathEscape(id), nil, &vm)
			if err != nil {
				return err
			}
			var s *wire.CombinedSample
			rawSample, err := c.getJSON(ctx, "/v1/vms/"+url.PathEscape(id)+"/metrics", nil, &s)
			var ae *apiError
			if errors.As(err, &ae) && ae.status == http.StatusNotFound {
				s, rawSample, err = nil, []byte("null"), nil // no sample yet
			}
			if err != nil {
				return err
			}
			var evs []wire.Event
			rawEvents, err := c.getJSON(ctx, "/v1/events", url.Values{"vm_id": {id}, "limit": {strconv.Itoa(events)}}, &evs)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, []byte(`{"vm":`+string(rawVM)+`,"latest":`+string(rawSample)+`,"events":`+string(rawEvents)+`}`))
			}
			now := g.now()
			tw := table(g.stdout)
			row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
			row("Name:", vm.Name)
			row("ID:", vm.ID)
			row("Host:", or(vm.HostID, "- (polled directly)"))
			row("Labels:", labelsOf(vm.Labels))
			row("Last sample:", when(vm.LastSampleMs, now))
			if vm.GoneMs > 0 {
				row("Gone since:", when(vm.GoneMs, now))
			}
			if s != nil {
				row("Source:", s.Source+" (memory: "+s.MemorySource+")")
				row("CPU:", pct(s.CPUUsagePercent)+vcpus(s.VCPUs))
				row("Memory:", memory(s))
				if n := s.Network; n != nil {
					row("Network:", bytesOf(n.RxBytesPerSec)+"/s in, "+bytesOf(n.TxBytesPerSec)+"/s out ("+n.Source+")")
				}
				if d := s.Disk; d != nil {
					row("Disk:", bytesOf(d.ReadBytesPerSec)+"/s read, "+bytesOf(d.WriteBytesPerSec)+"/s written ("+d.Source+")")
				}
				if cg := s.Cgroup; cg != nil {
					row("Throttled:", pct(&cg.ThrottledPercent)+" of the cgroup's quota periods")
				}
				if s.Stale {
					row("Stale:", "yes: the newest figures are older than three intervals")
				}
			}
			ga := "reachable"
			if !vm.GuestAgent.Reachable {
				ga = "not reachable"
				if vm.GuestAgent.LastError != "" {
					ga += ": " + vm.GuestAgent.LastError
				}
			}
			row("Guest agent:", ga)
			if vm.MetricsProblem != "" {
				row("Firecracker metrics:", vm.MetricsProblem)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "\nEvents:")
			if len(evs) == 0 {
				fmt.Fprintln(g.stdout, "  none")
			}
			return writeEvents(g, evs, false)
		},
	}
}

func vcpus(n int) string {
	if n <= 0 {
		return ""
	}
	return " of " + strconv.Itoa(n) + " vCPUs"
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeEvents writes evs (newest first, as the API answers) oldest first.
func writeEvents(g *globals, evs []wire.Event, jsonLines bool) error {
	now := g.now()
	tw := table(g.stdout)
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if jsonLines {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, string(b))
			continue
		}
		vm := e.VMID
		if len(vm) > 8 {
			vm = vm[:8]
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", when(e.TimestampMs, now), e.Type, vm, e.Message)
	}
	return tw.Flush()
}

func eventsCommand() command {
	var follow bool
	var typ, vm, since string
	var limit int
	return command{
		name: "events",
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&follow, "follow", false, "wait for new events and show them as they come, until Ctrl-C")
			fs.StringVar(&typ, "type", "", "only events of this type (vmm_exit, oom_kill, source_change, ...)")
			fs.StringVar(&vm, "vm", "", "only the events of this VM (id or name)")
			fs.StringVar(&since, "since", "", "only events since then: a duration ago (1h) or an RFC 3339 time")
			fs.IntVar(&limit, "limit", 50, "at most this many of the latest events")
		},
		run: func(ctx context.Context, c *client, g *globals, _ []string) error {
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if typ != "" {
				q.Set("type", typ)
			}
			if vm != "" {
				id, err := resolve(ctx, c, vm)
				if err != nil {
					return err
				}
				q.Set("vm_id", id)
			}
			if since != "" {
				ms, err := parseWhen(since, g.now())
				if err != nil {
					return fmt.Errorf("%w: --since %w", errUsage, err)
				}
				q.Set("since", strconv.FormatInt(ms, 10))
			}
			var evs []wire.Event
			raw, err := c.getJSON(ctx, "/v1/events", q, &evs)
			if err != nil {
				return err
			}
			switch {
			case g.output == "json" && !follow:
				return printJSON(g.stdout, raw)
			case g.output == "table" && len(evs) == 0 && !follow:
				fmt.Fprintln(g.stdout, "no events")
				return nil
			}
			if err := writeEvents(g, evs, g.output == "json"); err != nil || !follow {
				return err
			}
			return followEvents(ctx, c, g, q, evs)
		},
	}
}

// followEvents asks for the events newer than the newest shown every
// followEvery until ctx ends, writing each once (as JSON lines with
// --output json).
func followEvents(ctx context.Context, c *client, g *globals, q url.Values, shown []wire.Event) error {
	var newest int64
	seen := map[int64]bool{}
	for _, e := range shown {
		newest = max(newest, e.TimestampMs)
		seen[e.ID] = true
	}
	if newest == 0 {
		newest = g.now().UnixMilli()
	}
	q.Set("limit", "1000")
	parent := ctx
	ctx, stop := context.WithCancel(parent)
	defer stop()
	var failed error // writing to stdout failed: the follow ends
	tick.Every(ctx, g.followEvery, func() {
		q.Set("since", strconv.FormatInt(newest, 10)) // inclusive: the ids tell repeats apart
		var evs []wire.Event
		if _, err := c.getJSON(ctx, "/v1/events", q, &evs); err != nil {
			if ctx.Err() == nil {
				fmt.Fprintln(g.stderr, "fcmonctl:", err, "(trying again)")
			}
			return
		}
		evs = slices.DeleteFunc(evs, func(e wire.Event) bool { return seen[e.ID] })
		for _, e := range evs {
			seen[e.ID] = true
			newest = max(newest, e.TimestampMs)
		}
		if err := writeEvents(g, evs, g.output == "json"); err != nil {
			failed = err
			stop()
		}
		if len(seen) > 100000 {
			clear(seen) // bounded; events of the newest millisecond may then repeat once
		}
	})
	if failed != nil {
		return failed
	}
	return parent.Err() // otherwise only the caller's end (Ctrl-C) ends the follow
}

// parseWhen reads a time as a duration before now (90m, 24h) or RFC 3339,
// in Unix ms.
func parseWhen(s string, now time.Time) (int64, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return 0, fmt.Errorf("%q: a duration ago must be positive", s)
		}
		return now.Add(-d).UnixMilli(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UnixMilli(), nil
	}
	return 0, fmt.Errorf("%q is neither a duration (1h30m) nor an RFC 3339 time (2026-12-07T10:00:00Z)", s)
}

func hostsCommand() command {
	return command{
		name: "hosts",
		run: func(ctx context.Context, c *client, g *globals, _ []string) error {
			var hosts []wire.Host
			raw, err := c.getJSON(ctx, "/v1/hosts", nil, &hosts)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, raw)
			}
			now := g.now()
			tw := table(g.stdout)
			fmt.Fprintln(tw, "NAME\tID\tURL\tSTATE\tVMS\tLATENCY\tLAST SUCCESS\tLAST ERROR")
			for _, h := range hosts {
				state := "answering"
				if !h.Reachable {
					state = "NOT ANSWERING"
				}
				lat := "-"
				if h.LatencyMs > 0 {
					lat = strconv.FormatFloat(h.LatencyMs, 'f', 1, 64) + " ms"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", or(h.Name, "-"), h.ID, h.URL, state, h.VMs, lat,
					when(h.LastSuccessMs, now), or(h.LastError, "-"))
			}
			return tw.Flush()
		},
	}
}

func usageCommand() command {
	var since, until, groupBy string
	var label strs
	return command{
		name: "usage",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&since, "since", "24h", "from then: a duration ago (24h) or an RFC 3339 time")
			fs.StringVar(&until, "until", "", "until then (default now): a duration ago or an RFC 3339 time")
			fs.StringVar(&groupBy, "group-by", "vm", "vm, or label:KEY for one row per value of that label")
			fs.Var(&label, "label", "only VMs with this label, key=value (repeat for all of several)")
		},
		run: func(ctx context.Context, c *client, g *globals, _ []string) error {
			now := g.now()
			q := url.Values{"group_by": {groupBy}}
			for name, v := range map[string]string{"since": since, "until": until} {
				if v == "" {
					continue
				}
				ms, err := parseWhen(v, now)
				if err != nil {
					return fmt.Errorf("%w: --%s %w", errUsage, name, err)
				}
				q.Set(name, strconv.FormatInt(ms, 10))
			}
			for _, l := range label {
				q.Add("label", l)
			}
			var ans wire.Usage
			raw, err := c.getJSON(ctx, "/v1/usage", q, &ans)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(g.stdout, raw)
			}
			fmt.Fprintf(g.stdout, "Usage from %s to %s\n", time.UnixMilli(ans.SinceMs).Local().Format(time.DateTime),
				time.UnixMilli(ans.UntilMs).Local().Format(time.DateTime))
			tw := table(g.stdout)
			first := "VM"
			if groupBy != "vm" {
				first = strings.ToUpper(strings.TrimPrefix(groupBy, "label:"))
			}
			fmt.Fprintln(tw, first+"\tVCPU-S USED\tVCPU-S ALLOCATED\tGIB-S USED\tGIB-S ALLOCATED\tNETWORK\tDISK\tSOURCE")
			for _, r := range ans.Rows {
				name := r.VMName
				if groupBy != "vm" {
					name = r.Value
					if r.Missing {
						name = "(no label)"
					}
				}
				fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.2f\t%.2f\t%s\t%s\t%s\n", or(name, r.VMID), r.VCPUSecondsUsed, r.VCPUSecondsAllocated,
					r.MemoryGiBSecondsUsed, r.MemoryGiBSecondsAllocated, bytesOf(r.NetworkBytes), bytesOf(r.DiskBytes), r.Source)
			}
			return tw.Flush()
		},
	}
}
