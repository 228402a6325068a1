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
	"strings"
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
func DecodeLine(data []byte) (Line, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Line{}, fmt.Errorf("%w: %w", ErrBadLine, err)
	}
	if top == nil {
		return Line{}, fmt.Errorf("%w: null", ErrBadLine)
	}
	var line Line
	ts, ok := top["utc_timestamp_ms"]
	if !ok {
		return Line{}, fmt.Errorf("%w: no utc_timestamp_ms", ErrBadLine)
	}
	if err := json.Unmarshal(ts, &line.TimestampMs); err != nil {
		return Line{}, fmt.Errorf("%w: utc_timestamp_ms: %w", ErrBadLine, err)
	}
	for key, raw := range top {
		if err := line.decodeSection(key, raw); err != nil {
			return Line{}, fmt.Errorf("%w: %s: %w", ErrBadLine, key, err)
		}
	}
	return line, nil
}

// decodeSection stores the section key if fcmon uses it and ignores it
// otherwise.
func (l *Line) decodeSection(key string, raw json.RawMessage) error {
	switch {
	case key == "net":
		l.NetAll = new(NetCounters)
		return decodeObject(raw, l.NetAll)
	case key == "block":
		l.BlockAll = new(BlockCounters)
		return decodeObject(raw, l.BlockAll)
	case key == "logger":
		l.Logger = new(LoggerCounters)
		return decodeObject(raw, l.Logger)
	case strings.HasPrefix(key, "net_") && len(key) > len("net_"):
		var c NetCounters
		if err := decodeObject(raw, &c); err != nil {
			return err
		}
		if l.Net == nil {
			l.Net = make(map[string]NetCounters, 2)
		}
		l.Net[key[len("net_"):]] = c
	case strings.HasPrefix(key, "block_") && len(key) > len("block_"):
		var c BlockCounters
		if err := decodeObject(raw, &c); err != nil {
			return err
		}
		if l.Block == nil {
			l.Block = make(map[string]BlockCounters, 2)
		}
		l.Block[key[len("block_"):]] = c
	}
	return nil
}

// decodeObject refuses anything but a JSON object: json.Unmarshal would
// accept null as "no change", which would make a mangled section look like a
// section of zeros.
func decodeObject(raw json.RawMessage, v any) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("expected an object")
	}
	return json.Unmarshal(raw, v)
}

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
