package fleet

import (
	"cmp"
	"slices"
	"strings"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// Group counts rows by the value of their label key (GET /v1/fleet?group_by=):
// VMs and live VMs, and the live VMs' CPU and memory sums. The VMs
// without the label form one group of their own (Missing). Gone VMs are
// left out, as a fleet's usage is that of the VMs it runs.
func Group(rows []Row, key string) []wire.FleetGroup {
	at := map[string]int{}
	var out []wire.FleetGroup
	for i := range rows {
		r := &rows[i]
		if r.State == wire.StateGone {
			continue
		}
		v, has := r.VM.Merged[key]
		k := "=" + v // "=" for a value, "" for none: the two never clash
		if !has {
			k = ""
		}
		j, ok := at[k]
		if !ok {
			j = len(out)
			at[k] = j
			out = append(out, wire.FleetGroup{Value: v, Missing: !has})
		}
		g := &out[j]
		g.VMs++
		if r.State != wire.StateLive {
			continue
		}
		g.Live++
		if r.S.CPUUsagePercent != nil {
			g.CPUPercentSum += *r.S.CPUUsagePercent
		}
		if r.S.MemoryUsedKB != nil {
			g.MemoryUsedKBSum += float64(*r.S.MemoryUsedKB)
		}
	}
	SortGroups(out)
	return out
}

// mergeGroups adds another manager's groups to f's.
func mergeGroups(f, p *wire.Fleet) {
	if p.GroupBy == "" {
		return
	}
	key := func(g wire.FleetGroup) string {
		if g.Missing {
			return ""
		}
		return "=" + g.Value
	}
	at := make(map[string]int, len(f.Groups))
	for i, g := range f.Groups {
		at[key(g)] = i
	}
	for _, g := range p.Groups {
		i, ok := at[key(g)]
		if !ok {
			at[key(g)] = len(f.Groups)
			f.Groups = append(f.Groups, g)
			continue
		}
		mine := &f.Groups[i]
		mine.VMs += g.VMs
		mine.Live += g.Live
		mine.CPUPercentSum += g.CPUPercentSum
		mine.MemoryUsedKBSum += g.MemoryUsedKBSum
	}
}

// SortGroups puts the groups with the most VMs first, then by value, the
// VMs without the label last among equals.
func SortGroups(gs []wire.FleetGroup) {
	slices.SortFunc(gs, func(x, y wire.FleetGroup) int {
		if c := cmp.Compare(y.VMs, x.VMs); c != 0 {
			return c
		}
		if x.Missing != y.Missing {
			if x.Missing {
				return 1
			}
			return -1
		}
		return strings.Compare(x.Value, y.Value)
	})
}
