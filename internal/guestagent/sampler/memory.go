package sampler

import (
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// memory is /proc/meminfo: the headline figures of the original agent and
// every field as node_exporter exports it.
type memory struct {
	mem procfs.MemInfo
	ok  bool
}

func init() { register(func(*Options) figure { return &memory{} }) }

func (f *memory) read(fs procfs.FS) []sourceErr {
	var err error
	f.mem, err = fs.MemInfo()
	f.ok = err == nil
	return failed("meminfo", err)
}

// fill sets used = total - available; kernels without MemAvailable get
// the classic estimate (see procfs.MemInfo.Available).
func (f *memory) fill(m *wire.GuestMetrics, _ window) {
	if !f.ok {
		return
	}
	mem := &f.mem
	avail := mem.Available()
	m.MemoryTotalKB = mem.TotalKB
	m.MemoryAvailableKB = avail
	m.MemoryUsedKB = mem.TotalKB - avail
	if mem.TotalKB > 0 {
		m.MemoryUsagePercent = round2(clampPercent(float64(m.MemoryUsedKB) / float64(mem.TotalKB) * 100))
	}
	m.Memory = &wire.MemoryDetail{FreeKB: mem.FreeKB, BuffersKB: mem.BuffersKB, CachedKB: mem.CachedKB,
		SwapTotalKB: mem.SwapTotalKB, SwapFreeKB: mem.SwapFreeKB}
}

// prom exports every /proc/meminfo line as node_exporter does:
// node_memory_<Field>_bytes for kB fields, node_memory_<Field> otherwise,
// with "Active(anon)" spelled Active_anon.
func (f *memory) prom(w *promtext.Writer) {
	if !f.ok {
		return
	}
	seen := make(map[string]bool, len(f.mem.Fields))
	for _, fl := range f.mem.Fields {
		name := "node_memory_" + metricName(fl.Name)
		value := fl.Value
		if fl.KB {
			name += "_bytes"
			value *= 1024
		}
		if seen[name] {
			continue // a repeated field would split its family, which parsers refuse
		}
		seen[name] = true
		w.Family(name, "gauge", "Memory information field "+fl.Name+".")
		w.SampleUint(value)
	}
}

// metricName maps a meminfo field to the characters a metric name allows.
func metricName(field string) string {
	b := make([]byte, 0, len(field)+1)
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch {
		case c == ')':
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c >= '0' && c <= '9' && i > 0:
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}
