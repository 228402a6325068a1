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
	"unicode"
	"unicode/utf8"
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
	// Frames the rate limiter held back, and failed reads and writes of
	// the host's tap.
	RxThrottled   uint64 `json:"rx_rate_limiter_throttled"`
	TxThrottled   uint64 `json:"tx_rate_limiter_throttled"`
	TapReadFails  uint64 `json:"tap_read_fails"`
	TapWriteFails uint64 `json:"tap_write_fails"`
}

// BlockCounters are the fields of one block section (block_<drive_id> or the
// aggregate block) that fcmon uses, as deltas since the previous flush.
type BlockCounters struct {
	ReadBytes  uint64 `json:"read_bytes"`
	WriteBytes uint64 `json:"write_bytes"`
	ReadCount  uint64 `json:"read_count"`
	WriteCount uint64 `json:"write_count"`
	FlushCount uint64 `json:"flush_count"`
	// Requests held back by the drive's rate limiter, and by the io_uring
	// engine's queue being full.
	Throttled         uint64 `json:"rate_limiter_throttled_events"`
	IOEngineThrottled uint64 `json:"io_engine_throttled_events"`
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
	VCPU        *VCPUCounters
	Vsock       *VsockCounters
	Signals     *SignalCounters
	Seccomp     *SeccompCounters
	VMM         *VMMCounters
	VhostUser   map[string]VhostUserCounters // by name: "block_rootfs" from vhost_user_block_rootfs
	// Properties are the operator's key-value pairs Firecracker writes on
	// every line when its metrics configuration sets them (after v1.16).
	Properties map[string]string
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
	var ts, props []byte
	var sections [16]member
	wanted := sections[:0]
	extra := map[string][]byte(nil)
	sc.members(func(k, raw []byte) {
		switch {
		case string(k) == "utc_timestamp_ms":
			ts = raw
		case string(k) == "properties":
			props = raw
		case sectionKind(k) == "":
		default:
			for i := range wanted {
				if string(wanted[i].key) == string(k) {
					wanted[i].raw = raw
					return
				}
			}
			if len(wanted) < cap(wanted) {
				wanted = append(wanted, member{k, raw})
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
	if props != nil {
		// Rare and small: encoding/json's string rules are worth reusing.
		if err := json.Unmarshal(props, &line.Properties); err != nil {
			return Line{}, fmt.Errorf("%w: properties: %w", ErrBadLine, err)
		}
	}
	for _, m := range wanted {
		if err := line.decodeSection(m.key, m.raw); err != nil {
			return Line{}, fmt.Errorf("%w: %s: %w", ErrBadLine, m.key, err)
		}
	}
	for key, raw := range extra {
		if err := line.decodeSection([]byte(key), raw); err != nil {
			return Line{}, fmt.Errorf("%w: %s: %w", ErrBadLine, key, err)
		}
	}
	return line, nil
}

type member struct {
	key []byte // in the line's bytes
	raw []byte
}

// sectionKind is "net", "block", "vhost_user" or the group's own name for
// a key fcmon reads, and "" for the rest.
func sectionKind[T string | []byte](key T) string {
	switch string(key) {
	case "net", "block", "logger", "vcpu", "vsock", "signals", "seccomp", "vmm":
		return string(key)
	}
	switch {
	case len(key) > len("vhost_user_") && string(key[:len("vhost_user_")]) == "vhost_user_":
		return "vhost_user"
	case len(key) > len("net_") && string(key[:len("net_")]) == "net_":
		return "net"
	case len(key) > len("block_") && string(key[:len("block_")]) == "block_":
		return "block"
	}
	return ""
}

// decodeSection stores the section key if fcmon uses it and ignores it
// otherwise.
func (l *Line) decodeSection(key []byte, raw []byte) error {
	switch {
	case string(key) == "net":
		l.NetAll = new(NetCounters)
		return decodeCounters(raw, l.NetAll)
	case string(key) == "block":
		l.BlockAll = new(BlockCounters)
		return decodeCounters(raw, l.BlockAll)
	case string(key) == "logger":
		l.Logger = new(LoggerCounters)
		return decodeCounters(raw, l.Logger)
	case string(key) == "vcpu":
		l.VCPU = new(VCPUCounters)
		if len(raw) == 0 || raw[0] != '{' {
			return errors.New("expected an object")
		}
		return decodeGroup(raw, l.VCPU, l.VCPU)
	case string(key) == "vsock":
		l.Vsock = new(VsockCounters)
		return decodeCounters(raw, l.Vsock)
	case string(key) == "signals":
		l.Signals = new(SignalCounters)
		return decodeCounters(raw, l.Signals)
	case string(key) == "seccomp":
		l.Seccomp = new(SeccompCounters)
		return decodeCounters(raw, l.Seccomp)
	case string(key) == "vmm":
		l.VMM = new(VMMCounters)
		return decodeCounters(raw, l.VMM)
	case sectionKind(key) == "vhost_user":
		var c VhostUserCounters
		if err := decodeCounters(raw, &c); err != nil {
			return err
		}
		if l.VhostUser == nil {
			l.VhostUser = make(map[string]VhostUserCounters, 1)
		}
		l.VhostUser[string(key[len("vhost_user_"):])] = c
	case sectionKind(key) == "net":
		var c NetCounters
		if err := decodeCounters(raw, &c); err != nil {
			return err
		}
		if l.Net == nil {
			l.Net = make(map[string]NetCounters, 2)
		}
		l.Net[string(key[len("net_"):])] = c
	case sectionKind(key) == "block":
		var c BlockCounters
		if err := decodeCounters(raw, &c); err != nil {
			return err
		}
		if l.Block == nil {
			l.Block = make(map[string]BlockCounters, 2)
		}
		l.Block[string(key[len("block_"):])] = c
	}
	return nil
}

// field returns where the counter named key goes, or nil.
func (c *NetCounters) field(key []byte) *uint64 {
	switch string(key) {
	case "rx_bytes_count":
		return &c.RxBytes
	case "tx_bytes_count":
		return &c.TxBytes
	case "rx_packets_count":
		return &c.RxPackets
	case "tx_packets_count":
		return &c.TxPackets
	case "rx_fails":
		return &c.RxFails
	case "tx_fails":
		return &c.TxFails
	case "rx_rate_limiter_throttled":
		return &c.RxThrottled
	case "tx_rate_limiter_throttled":
		return &c.TxThrottled
	case "tap_read_fails":
		return &c.TapReadFails
	case "tap_write_fails":
		return &c.TapWriteFails
	}
	return nil
}

func (c *BlockCounters) field(key []byte) *uint64 {
	switch string(key) {
	case "read_bytes":
		return &c.ReadBytes
	case "write_bytes":
		return &c.WriteBytes
	case "read_count":
		return &c.ReadCount
	case "write_count":
		return &c.WriteCount
	case "flush_count":
		return &c.FlushCount
	case "rate_limiter_throttled_events":
		return &c.Throttled
	case "io_engine_throttled_events":
		return &c.IOEngineThrottled
	}
	return nil
}

func (c *LoggerCounters) field(key []byte) *uint64 {
	switch string(key) {
	case "missed_metrics_count":
		return &c.MissedMetrics
	case "metrics_fails":
		return &c.MetricsFails
	}
	return nil
}

// jsonName is key as encoding/json matches it against a field name that
// is lower-case ASCII (every name fcmon reads): each rune folded to the
// smallest of its case-folding set (so "ſ" is "S", the Kelvin sign "K"),
// then ASCII lower-cased; a key already in lower-case ASCII, the usual,
// is returned as it is. The counters' field methods then match it exactly.
func jsonName(key []byte) []byte {
	plain := true
	for _, c := range key {
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return key
	}
	out := make([]byte, 0, len(key))
	for i := 0; i < len(key); {
		r, n := rune(key[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(key[i:])
			for {
				f := unicode.SimpleFold(r)
				if f <= r {
					r = f
					break
				}
				r = f
			}
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}

// decodeCounters refuses anything but a JSON object — json.Unmarshal would
// accept null as "no change", which would make a mangled section look like
// a section of zeros — and stores each known counter through field: an
// unsigned integer, or null, which leaves it as it was.
func decodeCounters(raw []byte, c counters) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errors.New("expected an object")
	}
	return decodeGroup(raw, c, nil)
}

// counters is a decoded group: where its counter named key goes, or nil.
// (An interface rather than a func: a pointer in one costs no allocation.)
type counters interface{ field(key []byte) *uint64 }

// aggregates is a group with latency aggregates: the one named key, or nil.
type aggregates interface{ agg(key []byte) *LatencyAgg }

// decodeGroup stores the counters of the object raw through field, and
// the latency aggregates in it (an _agg) into what nested gives for
// their key: as json.Unmarshal decodes a struct field,
// null leaves one as it was, an object fills it, anything else is an error.
func decodeGroup(raw []byte, c counters, nested aggregates) error {
	var err error
	sc := scanner{data: raw}
	sc.members(func(key, value []byte) {
		if err != nil || isNull(value) {
			return
		}
		key = jsonName(key)
		if nested != nil {
			if agg := nested.agg(key); agg != nil {
				if value[0] != '{' {
					err = fmt.Errorf("%s: %s is not an object", key, value)
				} else if e := decodeGroup(value, agg, nil); e != nil {
					err = fmt.Errorf("%s: %w", key, e)
				}
				return
			}
		}
		p := c.field(key)
		if p == nil {
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
