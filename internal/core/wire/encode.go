package wire

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends m as one JSON object to b, in the field order and with
// the omission rules of the struct tags, so encoding/json decodes it back to
// an equal value. Non-finite floats, which JSON cannot carry, are written as
// 0; strings that are not valid UTF-8 get U+FFFD in place of bad bytes.
func (m *GuestMetrics) AppendJSON(b []byte) []byte {
	e := encoder{b: append(b, '{')}
	e.float("cpu_usage_percent", m.CPUUsagePercent)
	e.float("memory_usage_percent", m.MemoryUsagePercent)
	e.uint("memory_used_kb", m.MemoryUsedKB)
	e.uint("memory_total_kb", m.MemoryTotalKB)
	e.uint("memory_available_kb", m.MemoryAvailableKB)
	e.uint("uptime_seconds", m.UptimeSeconds)
	if m.TimestampMs != 0 {
		e.int("timestamp_ms", m.TimestampMs)
	}
	if m.IntervalMs != 0 {
		e.int("interval_ms", m.IntervalMs)
	}
	e.optString("boot_id", m.BootID)
	e.optString("hostname", m.Hostname)
	e.optString("kernel", m.Kernel)
	e.optString("agent_version", m.AgentVersion)
	if m.CPUCount != 0 {
		e.int("cpu_count", int64(m.CPUCount))
	}
	if c := m.CPU; c != nil {
		e.open("cpu", '{')
		e.float("user", c.User)
		e.float("nice", c.Nice)
		e.float("system", c.System)
		e.float("idle", c.Idle)
		e.float("iowait", c.IOWait)
		e.float("irq", c.IRQ)
		e.float("softirq", c.SoftIRQ)
		e.float("steal", c.Steal)
		e.close('}')
	}
	if l := m.Load; l != nil {
		e.open("load", '{')
		e.float("1m", l.Load1)
		e.float("5m", l.Load5)
		e.float("15m", l.Load15)
		e.close('}')
	}
	if d := m.Memory; d != nil {
		e.open("memory", '{')
		e.uint("free_kb", d.FreeKB)
		e.uint("buffers_kb", d.BuffersKB)
		e.uint("cached_kb", d.CachedKB)
		e.uint("swap_total_kb", d.SwapTotalKB)
		e.uint("swap_free_kb", d.SwapFreeKB)
		e.close('}')
	}
	e.network(m.Network)
	e.disks(m.Disks)
	e.filesystems(m.Filesystems)
	if p := m.Pressure; p != nil {
		e.open("pressure", '{')
		e.float("cpu_some_avg10", p.CPUSomeAvg10)
		e.float("memory_some_avg10", p.MemorySomeAvg10)
		e.float("memory_full_avg10", p.MemoryFullAvg10)
		e.float("io_some_avg10", p.IOSomeAvg10)
		e.float("io_full_avg10", p.IOFullAvg10)
		e.close('}')
	}
	if p := m.Processes; p != nil {
		e.open("processes", '{')
		e.uint("running", p.Running)
		e.uint("blocked", p.Blocked)
		e.uint("total", p.Total)
		e.close('}')
	}
	if len(m.Errors) > 0 {
		e.open("errors", '[')
		for _, s := range m.Errors {
			e.comma()
			e.b = appendString(e.b, s)
		}
		e.close(']')
	}
	return append(e.b, '}')
}

func (e *encoder) network(list []NetInterface) {
	if len(list) == 0 {
		return
	}
	e.open("network", '[')
	for i := range list {
		n := &list[i]
		e.element()
		e.string("interface", n.Interface)
		e.uint("rx_bytes", n.RxBytes)
		e.uint("tx_bytes", n.TxBytes)
		e.uint("rx_packets", n.RxPackets)
		e.uint("tx_packets", n.TxPackets)
		e.uint("rx_errors", n.RxErrors)
		e.uint("tx_errors", n.TxErrors)
		e.uint("rx_dropped", n.RxDropped)
		e.uint("tx_dropped", n.TxDropped)
		e.float("rx_bytes_per_sec", n.RxBytesPerSec)
		e.float("tx_bytes_per_sec", n.TxBytesPerSec)
		e.close('}')
	}
	e.close(']')
}

func (e *encoder) disks(list []Disk) {
	if len(list) == 0 {
		return
	}
	e.open("disks", '[')
	for i := range list {
		d := &list[i]
		e.element()
		e.string("device", d.Device)
		e.uint("read_bytes", d.ReadBytes)
		e.uint("write_bytes", d.WriteBytes)
		e.uint("reads", d.Reads)
		e.uint("writes", d.Writes)
		e.float("read_bytes_per_sec", d.ReadBytesPerSec)
		e.float("write_bytes_per_sec", d.WriteBytesPerSec)
		e.close('}')
	}
	e.close(']')
}

func (e *encoder) filesystems(list []Filesystem) {
	if len(list) == 0 {
		return
	}
	e.open("filesystems", '[')
	for i := range list {
		f := &list[i]
		e.element()
		e.string("mountpoint", f.MountPoint)
		e.string("fstype", f.FSType)
		e.uint("total_bytes", f.TotalBytes)
		e.uint("used_bytes", f.UsedBytes)
		e.uint("available_bytes", f.AvailableBytes)
		e.close('}')
	}
	e.close(']')
}

// encoder appends JSON members, tracking whether a comma is due.
type encoder struct {
	b    []byte
	more bool // a member or element precedes the next one at this level
}

func (e *encoder) comma() {
	if e.more {
		e.b = append(e.b, ',')
	}
	e.more = true
}

func (e *encoder) key(k string) {
	e.comma()
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

// open starts a nested object or array as member k.
func (e *encoder) open(k string, c byte) {
	e.key(k)
	e.b = append(e.b, c)
	e.more = false
}

// element starts an object inside an array.
func (e *encoder) element() {
	e.comma()
	e.b = append(e.b, '{')
	e.more = false
}

func (e *encoder) close(c byte) {
	e.b = append(e.b, c)
	e.more = true
}

func (e *encoder) float(k string, v float64) {
	e.key(k)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	e.b = strconv.AppendFloat(e.b, v, 'f', -1, 64)
}

func (e *encoder) uint(k string, v uint64) {
	e.key(k)
	e.b = strconv.AppendUint(e.b, v, 10)
}

func (e *encoder) int(k string, v int64) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
}

func (e *encoder) string(k, v string) {
	e.key(k)
	e.b = appendString(e.b, v)
}

func (e *encoder) optString(k, v string) {
	if v != "" {
		e.string(k, v)
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Besides the characters JSON
// requires escaping, <, > and & are escaped as encoding/json does, so the
// output is safe to embed in HTML.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
