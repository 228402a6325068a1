package fcstandin

import (
	_ "embed"
	"encoding/json"
	"errors"
	"os"
	"syscall"
	"time"
)

// templateLine is a metrics line as Firecracker v1.16 writes it: every key
// of that version. The stand-in writes lines of this shape.
//
//go:embed metrics-line.json
var templateLine []byte

// openMetrics opens the metrics path as Firecracker does:
// O_RDWR|O_CREAT|O_NONBLOCK, so a FIFO never blocks it and a missing path
// becomes a regular file.
func (v *VM) openMetrics() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cfg.Metrics == nil || v.metrics != nil {
		return
	}
	f, err := os.OpenFile(v.cfg.Metrics.MetricsPath, os.O_RDWR|os.O_CREATE|os.O_APPEND|syscall.O_NONBLOCK, 0o644)
	if err == nil {
		v.metrics = f
	}
}

// writeLine writes one metrics line: the template with every counter
// zeroed, then the interfaces' and drives' deltas since the previous line,
// the aggregate net and block sections, the time and the count of lines
// that could not be written. A full pipe loses the line, as Firecracker's
// non-blocking write does.
func (v *VM) writeLine() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.metrics == nil {
		return nil
	}
	var line map[string]any
	if err := json.Unmarshal(templateLine, &line); err != nil {
		return err
	}
	zero(line)
	line["utc_timestamp_ms"] = time.Now().UnixMilli()
	var cur Counters
	if v.src.Counters != nil {
		cur = v.src.Counters()
	}
	var net, blk [4]uint64
	for id, c := range cur.Net {
		p := v.lastCnt.Net[id]
		d := [4]uint64{delta(c.RxBytes, p.RxBytes), delta(c.TxBytes, p.TxBytes), delta(c.RxPackets, p.RxPackets), delta(c.TxPackets, p.TxPackets)}
		section := copySection(line, "net_eth0")
		section["rx_bytes_count"], section["tx_bytes_count"] = d[0], d[1]
		section["rx_packets_count"], section["tx_packets_count"] = d[2], d[3]
		section["rx_count"], section["tx_count"] = d[2], d[3]
		line["net_"+id] = section
		for i := range net {
			net[i] += d[i]
		}
	}
	if _, ok := cur.Net["eth0"]; !ok {
		delete(line, "net_eth0")
	}
	n := line["net"].(map[string]any)
	n["rx_bytes_count"], n["tx_bytes_count"], n["rx_packets_count"], n["tx_packets_count"] = net[0], net[1], net[2], net[3]
	n["rx_count"], n["tx_count"] = net[2], net[3]
	for id, c := range cur.Block {
		p := v.lastCnt.Block[id]
		d := [4]uint64{delta(c.ReadBytes, p.ReadBytes), delta(c.WriteBytes, p.WriteBytes), delta(c.Reads, p.Reads), delta(c.Writes, p.Writes)}
		section := copySection(line, "block_rootfs")
		section["read_bytes"], section["write_bytes"], section["read_count"], section["write_count"] = d[0], d[1], d[2], d[3]
		line["block_"+id] = section
		for i := range blk {
			blk[i] += d[i]
		}
	}
	if _, ok := cur.Block["rootfs"]; !ok {
		delete(line, "block_rootfs")
	}
	b := line["block"].(map[string]any)
	b["read_bytes"], b["write_bytes"], b["read_count"], b["write_count"] = blk[0], blk[1], blk[2], blk[3]
	line["logger"].(map[string]any)["missed_metrics_count"] = v.missed
	v.lastCnt = cur
	out, err := json.Marshal(line)
	if err != nil {
		return err
	}
	if _, err := v.metrics.Write(append(out, '\n')); err != nil {
		if errors.Is(err, syscall.EAGAIN) {
			v.missed++
			return nil
		}
		return err
	}
	return nil
}

// zero sets every number in v to 0, recursively.
func zero(v map[string]any) {
	for k, x := range v {
		switch t := x.(type) {
		case float64:
			v[k] = 0
		case map[string]any:
			zero(t)
		}
	}
}

// copySection returns a zeroed copy of the template's section name.
func copySection(line map[string]any, name string) map[string]any {
	var out map[string]any
	b, _ := json.Marshal(line[name])
	json.Unmarshal(b, &out)
	zero(out)
	return out
}

func delta(cur, prev uint64) uint64 {
	if cur < prev {
		return cur // restarted: the whole value is new
	}
	return cur - prev
}
