// Package firecracker reads what a Firecracker VMM publishes about itself:
// the metrics lines it writes to its metrics FIFO (decoded and summed into
// totals and rates here) and its API socket, used to request FlushMetrics.
// The formats are Firecracker's own; see docs in shared/reference.
package firecracker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// NetCounters are the fields of one net section (net_<iface_id> or the
// aggregate net) that fcmon uses. Firecracker's rx is traffic into the guest,
// tx traffic out of it; byte counts include a 12-byte virtio header per frame.
// Like every counter in a metrics line they are deltas since the previous
// flush.
type NetCounters struct {
	RxBytes   uint64 `json:"rx_bytes_count"`
	TxBytes   uint64 `json:"tx_bytes_count"`
	RxPackets uint64 `json:"rx_packets_count"`
	TxPackets uint64 `json:"tx_packets_count"`
	RxFails   uint64 `json:"rx_fails"`
	TxFails   uint64 `json:"tx_fails"`
}

// BlockCounters are the fields of one block section (block_<drive_id> or the
// aggregate block) that fcmon uses, as deltas since the previous flush.
type BlockCounters struct {
	ReadBytes  uint64 `json:"read_bytes"`
	WriteBytes uint64 `json:"write_bytes"`
	ReadCount  uint64 `json:"read_count"`
	WriteCount uint64 `json:"write_count"`
	FlushCount uint64 `json:"flush_count"`
}

// LoggerCounters are the fields of the logger section fcmon uses.
type LoggerCounters struct {
	MissedMetrics uint64 `json:"missed_metrics_count"`
	MetricsFails  uint64 `json:"metrics_fails"`
}

// Line is one decoded metrics line. Sections absent from the line are nil
// (aggregates and logger) or missing from the maps (per device), so callers
// can tell "no such device in this version" from "zero traffic".
type Line struct {
	TimestampMs int64                    // utc_timestamp_ms
	Net         map[string]NetCounters   // by iface_id: "eth0" from net_eth0
	NetAll      *NetCounters             // the aggregate "net" section
	Block       map[string]BlockCounters // by drive_id: "rootfs" from block_rootfs
	BlockAll    *BlockCounters           // the aggregate "block" section
	Logger      *LoggerCounters
}

// ErrBadLine is wrapped by every error DecodeLine returns.
var ErrBadLine = errors.New("not a firecracker metrics line")

// DecodeLine decodes one metrics line (without its newline). Unknown keys
// and missing sections are fine, since Firecracker adds and removes them
// between versions; what is required is a JSON object with a numeric
// utc_timestamp_ms and, for the sections fcmon reads, objects whose known
// fields are unsigned integers. Anything else returns an error wrapping
// ErrBadLine.
//
// A line is checked as json.Valid would (by a faster loop) and then walked in place: only the five
// or so sections fcmon reads are looked into, and only their counters are
// converted, which is several times faster than encoding/json's decoding
// of the whole 6 KiB line (a host agent reads one line per VM a second).
// It decodes as json.Unmarshal into the types above would: the same
// results and the same inputs refused (a fuzz test holds the two equal).
func DecodeLine(data []byte) (Line, error) {
	if !valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return Line{}, fmt.Errorf("%w: %w", ErrBadLine, err)
	}
	sc := scanner{data: data}
	sc.space()
	if sc.peek() != '{' {
		if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
			return Line{}, fmt.Errorf("%w: null", ErrBadLine)
		}
		return Line{}, fmt.Errorf("%w: not a JSON object", ErrBadLine)
	}
	// Later duplicates of a key win, as in a map; so the members fcmon reads
	// are collected first, each key once, and decoded after.
	var ts []byte
	var sections [8]member
	wanted := sections[:0]
	extra := map[string][]byte(nil)
	sc.members(func(k, raw []byte) {
		switch {
		case string(k) == "utc_timestamp_ms":
			ts = raw
		case sectionKind(k) == "":
		default:
			for i := range wanted {
				if wanted[i].key == string(k) {
					wanted[i].raw = raw
					return
				}
			}
			if len(wanted) < cap(wanted) {
				wanted = append(wanted, member{string(k), raw})
				return
			}
			if extra == nil {
				extra = make(map[string][]byte)
			}
			extra[string(k)] = raw
		}
	})
	if ts == nil {
		return Line{}, fmt.Errorf("%w: no utc_timestamp_ms", ErrBadLine)
	}
	var line Line
	if !isNull(ts) {
		n, err := strconv.ParseInt(string(ts), 10, 64)
		if err != nil {
			return Line{}, fmt.Errorf("%w: utc_timestamp_ms: %s is not an integer", ErrBadLine, ts)
		}
		line.TimestampMs = n
	}
	for _, m := range wanted {
		if err := line.decodeSection(m.key, m.raw); err != nil {
			return Line{}, fmt.Errorf("%w: %s: %w", ErrBadLine, m.key, err)
		}
	}
	for key, raw := range extra {
		if err := line.decodeSection(key, raw); err != nil {
			return Line{}, fmt.Errorf("%w: %s: %w", ErrBadLine, key, err)
		}
	}
	return line, nil
}

type member struct {
	key string
	raw []byte
}

// sectionKind is "net", "block" or "logger" for a key fcmon reads, and ""
// for the rest.
func sectionKind[T string | []byte](key T) string {
	switch {
	case string(key) == "net", string(key) == "block", string(key) == "logger":
		return string(key)
	case len(key) > len("net_") && string(key[:len("net_")]) == "net_":
		return "net"
	case len(key) > len("block_") && string(key[:len("block_")]) == "block_":
		return "block"
	}
	return ""
}

// decodeSection stores the section key if fcmon uses it and ignores it
// otherwise.
func (l *Line) decodeSection(key string, raw []byte) error {
	switch {
	case key == "net":
		l.NetAll = new(NetCounters)
		return decodeCounters(raw, l.NetAll.field)
	case key == "block":
		l.BlockAll = new(BlockCounters)
		return decodeCounters(raw, l.BlockAll.field)
	case key == "logger":
		l.Logger = new(LoggerCounters)
		return decodeCounters(raw, l.Logger.field)
	case sectionKind(key) == "net":
		var c NetCounters
		if err := decodeCounters(raw, c.field); err != nil {
			return err
		}
		if l.Net == nil {
			l.Net = make(map[string]NetCounters, 2)
		}
		l.Net[key[len("net_"):]] = c
	case sectionKind(key) == "block":
		var c BlockCounters
		if err := decodeCounters(raw, c.field); err != nil {
			return err
		}
		if l.Block == nil {
			l.Block = make(map[string]BlockCounters, 2)
		}
		l.Block[key[len("block_"):]] = c
	}
	return nil
}

// field returns where the counter named key goes, or nil.
func (c *NetCounters) field(key []byte) *uint64 {
	switch {
	case fold(key, "rx_bytes_count"):
		return &c.RxBytes
	case fold(key, "tx_bytes_count"):
		return &c.TxBytes
	case fold(key, "rx_packets_count"):
		return &c.RxPackets
	case fold(key, "tx_packets_count"):
		return &c.TxPackets
	case fold(key, "rx_fails"):
		return &c.RxFails
	case fold(key, "tx_fails"):
		return &c.TxFails
	}
	return nil
}

func (c *BlockCounters) field(key []byte) *uint64 {
	switch {
	case fold(key, "read_bytes"):
		return &c.ReadBytes
	case fold(key, "write_bytes"):
		return &c.WriteBytes
	case fold(key, "read_count"):
		return &c.ReadCount
	case fold(key, "write_count"):
		return &c.WriteCount
	case fold(key, "flush_count"):
		return &c.FlushCount
	}
	return nil
}

func (c *LoggerCounters) field(key []byte) *uint64 {
	switch {
	case fold(key, "missed_metrics_count"):
		return &c.MissedMetrics
	case fold(key, "metrics_fails"):
		return &c.MetricsFails
	}
	return nil
}

// fold matches a field name as encoding/json does for struct fields
// (exactly, else under Unicode simple case folding).
func fold(key []byte, name string) bool {
	return bytes.EqualFold(key, []byte(name))
}

// decodeCounters refuses anything but a JSON object — json.Unmarshal would
// accept null as "no change", which would make a mangled section look like
// a section of zeros — and stores each known counter through field: an
// unsigned integer, or null, which leaves it as it was.
func decodeCounters(raw []byte, field func(key []byte) *uint64) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("expected an object")
	}
	var err error
	sc := scanner{data: raw}
	sc.members(func(key, value []byte) {
		p := field(key)
		if p == nil || err != nil || isNull(value) {
			return
		}
		n, perr := strconv.ParseUint(string(value), 10, 64)
		if perr != nil {
			err = fmt.Errorf("%s: %s is not an unsigned integer", key, value)
			return
		}
		*p = n
	})
	return err
}

func isNull(v []byte) bool { return string(v) == "null" }

// lineStart marks where Firecracker begins every line: serde writes the
// struct's first field, utc_timestamp_ms, first.
var lineStart = []byte(`{"utc_timestamp_ms":`)

// Recover finds a complete line glued behind junk: when Firecracker's
// non-blocking write of a line fails half-way (a full pipe), the tail of the
// failed line or the start of a truncated one ends up before the next line
// without a newline between them. Recover returns the part of data from the
// last line start after offset 0, and false when there is none.
func Recover(data []byte) ([]byte, bool) {
	i := bytes.LastIndex(data, lineStart)
	if i <= 0 {
		return nil, false
	}
	return data[i:], true
}
