package fcstandin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"syscall"
	"time"
)

// LatencyAgg is LatencyAggregateMetrics (src/vmm/src/logger/metrics.rs:745).
type LatencyAgg struct {
	MinUs uint64 `json:"min_us" fc:"store"`
	MaxUs uint64 `json:"max_us" fc:"store"`
	SumUs uint64 `json:"sum_us"`
}

// DefaultMetricsPeriod is Firecracker's own period of metrics lines
// (WRITE_METRICS_PERIOD_MS, src/firecracker/src/metrics.rs:13).
const DefaultMetricsPeriod = 60 * time.Second

// lineWriterCap is the capacity of the std::io::LineWriter Firecracker
// writes metrics through (src/vmm/src/logger/mod.rs:32): a line longer
// than it reaches the file in pieces.
const lineWriterCap = 1024

// errAgain is the io::Error text a write to a full pipe gives.
const errAgain = "Resource temporarily unavailable (os error 11)"

// openMetrics opens the metrics path as Firecracker does
// (open_file_nonblock, src/vmm/src/utils/mod.rs:74): O_RDWR, O_CREAT and
// O_NONBLOCK, and neither O_APPEND nor O_TRUNC, so a regular file left by
// an earlier run is written over from its start.
func (v *VM) openMetrics() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cfg.Metrics == nil || v.metrics != nil {
		return nil
	}
	f, err := os.OpenFile(v.cfg.Metrics.MetricsPath, os.O_RDWR|os.O_CREATE|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return err
	}
	v.metrics = f
	return nil
}

// writeLine writes one metrics line, FirecrackerMetrics's serialisation:
// the groups in declaration order, each device's before the aggregate of
// its kind, counters as their counts since the previous line. Like
// Firecracker it writes through a 1 KiB line buffer to a non-blocking
// file: on a full pipe the write fails part-way, what the buffer still
// held goes out before the next line, and the rest of this one is lost.
// Without a metrics path it writes nothing (Firecracker's Ok(false)).
func (v *VM) writeLine() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.metrics == nil {
		return nil
	}
	var cur Counters
	if v.src.Counters != nil {
		cur = v.src.Counters()
	}
	cur = withMissed(cur, v.missed)
	for group, fields := range v.stored {
		m := map[string]uint64{}
		for k, n := range cur.Groups[group] {
			m[k] = n
		}
		for k, n := range fields {
			m[k] = n
		}
		cur.Groups[group] = m
	}
	line, err := encodeLine(time.Now().UnixMilli(), cur, v.lastCnt, v.cfg)
	if err != nil {
		return err
	}
	v.lastCnt = cur
	return v.emit(line)
}

// withMissed adds the lines the periodic writer could not write to the
// logger group, as Firecracker counts them (src/firecracker/src/metrics.rs:46).
func withMissed(c Counters, missed uint64) Counters {
	g := map[string]map[string]uint64{}
	for k, m := range c.Groups {
		g[k] = m
	}
	logger := map[string]uint64{}
	for k, n := range g["logger"] {
		logger[k] = n
	}
	logger["missed_metrics_count"] += missed
	g["logger"] = logger
	c.Groups = g
	return c
}

// emit writes line as a LineWriter<File> would.
func (v *VM) emit(line []byte) error {
	data := append(v.pending, line...)
	v.pending = nil
	for len(data) > 0 {
		// The buffer goes out when full, and at the line's end.
		n := min(len(data), lineWriterCap)
		w, err := writeNow(v.metrics, data[:n])
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) {
				// What the buffer held but could not write waits for the
				// next write; the rest of the line was never serialised.
				v.pending = append([]byte(nil), data[w:n]...)
				return errors.New("Failed to write metrics: " + errAgain)
			}
			return fmt.Errorf("Failed to write metrics: %w", err)
		}
		data = data[n:]
	}
	return nil
}

// writeNow writes to f without waiting: a full pipe is EAGAIN at once, as
// for Firecracker's non-blocking descriptor (Go's own Write would wait in
// the runtime's poller instead).
func writeNow(f *os.File, b []byte) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true
	}); err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	if werr == nil && n < len(b) {
		werr = syscall.EAGAIN // a pipe took part of it
	}
	return n, werr
}

// periodic writes a line at once (the microVM is built) and then every
// period until the VM closes; a line it cannot write is counted in
// logger.missed_metrics_count, as Firecracker's periodic writer does.
func (v *VM) periodic(period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if err := v.writeLine(); err != nil {
			v.mu.Lock()
			v.missed++
			v.mu.Unlock()
		}
		select {
		case <-v.closed:
			return
		case <-t.C:
		}
	}
}

// encodeLine is the line at nowMs for counters cur, counting from prev.
func encodeLine(nowMs int64, cur, prev Counters, cfg Config) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"utc_timestamp_ms":`)
	b.WriteString(fmt.Sprint(nowMs))
	// After the timestamp, as FirecrackerMetrics serialises them on main:
	// the id when emit_id, then the properties (a BTreeMap: sorted keys,
	// as encoding/json writes a map).
	if m := cfg.Metrics; m != nil {
		if m.EmitID != nil && *m.EmitID {
			id, _ := json.Marshal(cfg.ID)
			b.WriteString(`,"id":`)
			b.Write(id)
		}
		if len(m.Properties) > 0 {
			props, _ := json.Marshal(m.Properties)
			b.WriteString(`,"properties":`)
			b.Write(props)
		}
	}
	put := func(key string, group any) error {
		data, err := json.Marshal(group)
		if err != nil {
			return err
		}
		b.WriteString(`,"` + key + `":`)
		b.Write(data)
		return nil
	}
	single := func(key string, group any) error {
		fill(group, cur.Groups[key], prev.Groups[key])
		return put(key, group)
	}
	var blockAll blockDeviceMetrics
	var netAll netDeviceMetrics
	steps := []func() error{
		func() error { return single("api_server", &apiServerMetrics{}) },
		func() error { return single("balloon", &balloonDeviceMetrics{}) },
		func() error {
			for _, id := range driveIDs(cfg, cur) {
				var d blockDeviceMetrics
				fillBlock(&d, cur.Block[id], prev.Block[id])
				add(&blockAll, &d)
				if err := put("block_"+id, &d); err != nil {
					return err
				}
			}
			return put("block", &blockAll)
		},
		func() error { return single("deprecated_api", &deprecatedApiMetrics{}) },
		func() error { return single("get_api_requests", &getRequestsMetrics{}) },
		func() error { return single("i8042", &i8042DeviceMetrics{}) },
		func() error { return single("uart", &serialDeviceMetrics{}) },
		func() error { return single("latencies_us", &performanceMetrics{}) },
		func() error { return single("logger", &loggerSystemMetrics{}) },
		func() error { return single("mmds", &mmdsMetrics{}) },
		func() error {
			for _, id := range ifaceIDs(cfg, cur) {
				var d netDeviceMetrics
				fillNet(&d, cur.Net[id], prev.Net[id])
				add(&netAll, &d)
				if err := put("net_"+id, &d); err != nil {
					return err
				}
			}
			return put("net", &netAll)
		},
		func() error { return single("patch_api_requests", &patchRequestsMetrics{}) },
		func() error { return single("put_api_requests", &putRequestsMetrics{}) },
		func() error { return single("seccomp", &seccompMetrics{}) },
		func() error { return single("vcpu", &vcpuMetrics{}) },
		func() error { return single("vmm", &vmmMetrics{}) },
		func() error { return single("signals", &signalMetrics{}) },
		func() error { return single("vsock", &vsockDeviceMetrics{}) },
		func() error { return single("entropy", &entropyDeviceMetrics{}) },
		func() error { return put("pmem", &pmemMetrics{}) }, // no pmem devices: the aggregate alone
		func() error {
			// vhost-user drives (those with a socket), named block_<id>,
			// without an aggregate (vhost_user_metrics.rs:118).
			for _, id := range vhostDriveIDs(cfg) {
				var d vhostUserDeviceMetrics
				fill(&d, cur.Groups["vhost_user_block_"+id], prev.Groups["vhost_user_block_"+id])
				if err := put("vhost_user_block_"+id, &d); err != nil {
					return err
				}
			}
			return nil
		},
		func() error { return single("interrupts", &interruptMetrics{}) },
		func() error { return single("memory_hotplug", &virtioMemDeviceMetrics{}) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// driveIDs and ifaceIDs are the devices a line has sections for: the
// configured ones (whatever their counters), in the order of Firecracker's
// BTreeMap, sorted.
func driveIDs(cfg Config, cur Counters) []string {
	var ids []string
	for _, d := range cfg.Drives {
		if d.Socket == nil {
			ids = append(ids, d.DriveID)
		}
	}
	for id := range cur.Block {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func vhostDriveIDs(cfg Config) []string {
	var ids []string
	for _, d := range cfg.Drives {
		if d.Socket != nil {
			ids = append(ids, d.DriveID)
		}
	}
	slices.Sort(ids)
	return ids
}

func ifaceIDs(cfg Config, cur Counters) []string {
	var ids []string
	for _, n := range cfg.Network {
		ids = append(ids, n.IfaceID)
	}
	for id := range cur.Net {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func fillNet(d *netDeviceMetrics, cur, prev NetCounters) {
	d.RxBytesCount, d.TxBytesCount = delta(cur.RxBytes, prev.RxBytes), delta(cur.TxBytes, prev.TxBytes)
	d.RxPacketsCount, d.TxPacketsCount = delta(cur.RxPackets, prev.RxPackets), delta(cur.TxPackets, prev.TxPackets)
	d.RxCount, d.TxCount = d.RxPacketsCount, d.TxPacketsCount
	fill(d, cur.Extra, prev.Extra)
}

func fillBlock(d *blockDeviceMetrics, cur, prev BlockCounters) {
	d.ReadBytes, d.WriteBytes = delta(cur.ReadBytes, prev.ReadBytes), delta(cur.WriteBytes, prev.WriteBytes)
	d.ReadCount, d.WriteCount = delta(cur.Reads, prev.Reads), delta(cur.Writes, prev.Writes)
	fill(d, cur.Extra, prev.Extra)
}

// fill sets the fields of group (a pointer to a group struct) named in
// cur by their JSON names: a counter as its count since prev, a store
// (tagged fc:"store": Firecracker's StoreMetric) as its value. The fields
// of an aggregate are named "<field>.<its field>" ("exit_io_in_agg.sum_us").
func fill(group any, cur, prev map[string]uint64) {
	if len(cur) > 0 {
		fillValue(reflect.ValueOf(group).Elem(), "", cur, prev)
	}
}

func fillValue(v reflect.Value, prefix string, cur, prev map[string]uint64) {
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name := prefix + f.Tag.Get("json")
		switch v.Field(i).Kind() {
		case reflect.Struct:
			fillValue(v.Field(i), name+".", cur, prev)
		case reflect.Uint64:
			n, ok := cur[name]
			switch {
			case !ok:
			case f.Tag.Get("fc") == "store":
				v.Field(i).SetUint(n)
			default:
				v.Field(i).SetUint(delta(n, prev[name]))
			}
		}
	}
}

// add sums d's counters into the aggregate all, as Firecracker's
// aggregate() does.
func add(all, d any) {
	a, x := reflect.ValueOf(all).Elem(), reflect.ValueOf(d).Elem()
	for i := 0; i < a.NumField(); i++ {
		if a.Field(i).Kind() == reflect.Uint64 {
			a.Field(i).SetUint(a.Field(i).Uint() + x.Field(i).Uint())
		}
	}
}

func delta(cur, prev uint64) uint64 {
	if cur < prev {
		return cur // restarted: the whole value is new
	}
	return cur - prev
}
