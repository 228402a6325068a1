// Package usage turns the 1-minute rollups into what platforms bill by:
// vCPU-seconds and GiB-seconds used and allocated, network and disk bytes,
// per VM or per value of a label (GET /v1/usage). Each minute counts the
// time its samples cover, so a gap (no rollup, or a minute of few samples)
// adds nothing and a restore, whose minutes are each stored once, is
// never counted twice.
package usage

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Row is one VM's, or one label value's, usage over the range, as it is
// summed up.
type Row struct {
	wire.UsageRow
	bySource map[string]float64
}

// Columns are the rows' fields, in the CSV's order.
var Columns = []string{"vm_id", "vm_name", "value", "vcpu_seconds_used", "vcpu_seconds_allocated",
	"memory_gib_seconds_allocated", "memory_gib_seconds_used", "network_bytes", "disk_bytes", "source", "seconds"}

const gib = 1 << 20 // KiB in a GiB

// Add folds one minute of a VM into r. intervalS is the poll interval:
// the minute covers its samples' share of 60 s.
func (r *Row) Add(m *store.Rollup, intervalS float64) {
	covered := math.Min(60, float64(m.Samples)*intervalS)
	if covered <= 0 {
		return
	}
	r.Seconds += covered
	vcpus := 1.0
	if m.VCPUs.Valid && m.VCPUs.Avg > 0 {
		vcpus = m.VCPUs.Avg
	}
	// CPU counts the time of the minute its source's samples cover.
	cpuCovered := covered
	if m.Samples > 0 {
		cpuCovered = covered * float64(m.SourceSamples) / float64(m.Samples)
	}
	if m.CPU.Valid {
		used := m.CPU.Avg / 100 * vcpus * cpuCovered
		r.VCPUSecondsUsed += used
		if r.bySource == nil {
			r.bySource = map[string]float64{}
		}
		r.bySource[m.Source] += cpuCovered
	}
	r.VCPUSecondsAllocated += vcpus * covered
	switch {
	case m.MemTotalKB.Valid:
		r.MemoryGiBSecondsAllocated += m.MemTotalKB.Avg / gib * covered
	case m.CgroupLimitKB.Valid:
		r.MemoryGiBSecondsAllocated += m.CgroupLimitKB.Avg / gib * covered
	}
	if m.MemUsedKB.Valid {
		r.MemoryGiBSecondsUsed += m.MemUsedKB.Avg / gib * covered
	}
	for _, st := range []store.Stat{m.NetRx, m.NetTx} {
		if st.Valid {
			r.NetworkBytes += st.Avg * covered
		}
	}
	for _, st := range []store.Stat{m.DiskRead, m.DiskWrite} {
		if st.Valid {
			r.DiskBytes += st.Avg * covered
		}
	}
}

// Merge adds o's usage to r (grouping VMs by a label).
func (r *Row) Merge(o *Row) {
	r.VCPUSecondsUsed += o.VCPUSecondsUsed
	r.VCPUSecondsAllocated += o.VCPUSecondsAllocated
	r.MemoryGiBSecondsAllocated += o.MemoryGiBSecondsAllocated
	r.MemoryGiBSecondsUsed += o.MemoryGiBSecondsUsed
	r.NetworkBytes += o.NetworkBytes
	r.DiskBytes += o.DiskBytes
	r.Seconds += o.Seconds
	for s, v := range o.bySource {
		if r.bySource == nil {
			r.bySource = map[string]float64{}
		}
		r.bySource[s] += v
	}
}

// Finish names the row's source and rounds its figures to milli-units.
func (r *Row) Finish() {
	r.Source = wire.SourceNone
	best := 0.0
	for _, s := range slices.Sorted(maps.Keys(r.bySource)) {
		if v := r.bySource[s]; v > best {
			r.Source, best = s, v
		}
	}
	for _, f := range []*float64{&r.VCPUSecondsUsed, &r.VCPUSecondsAllocated, &r.MemoryGiBSecondsAllocated,
		&r.MemoryGiBSecondsUsed, &r.NetworkBytes, &r.DiskBytes, &r.Seconds} {
		*f = math.Round(*f*1000) / 1000
	}
}

// Sort orders rows by the most vCPU-seconds used, then name or value.
func Sort(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.VCPUSecondsUsed, a.VCPUSecondsUsed),
			strings.Compare(a.VMName+a.Value, b.VMName+b.Value), strings.Compare(a.VMID, b.VMID))
	})
}
