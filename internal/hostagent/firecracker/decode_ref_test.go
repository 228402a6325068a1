package firecracker

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// decodeLineReference is DecodeLine written plainly with encoding/json, the
// definition DecodeLine's scanner must match.
func decodeLineReference(data []byte) (Line, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Line{}, err
	}
	if top == nil {
		return Line{}, errors.New("null")
	}
	var line Line
	ts, ok := top["utc_timestamp_ms"]
	if !ok {
		return Line{}, errors.New("no utc_timestamp_ms")
	}
	if err := json.Unmarshal(ts, &line.TimestampMs); err != nil {
		return Line{}, err
	}
	object := func(raw json.RawMessage, v any) error {
		if len(raw) == 0 || raw[0] != '{' {
			return errors.New("expected an object")
		}
		return json.Unmarshal(raw, v)
	}
	for key, raw := range top {
		var err error
		switch {
		case key == "properties":
			err = json.Unmarshal(raw, &line.Properties)
		case key == "net":
			line.NetAll = new(NetCounters)
			err = object(raw, line.NetAll)
		case key == "block":
			line.BlockAll = new(BlockCounters)
			err = object(raw, line.BlockAll)
		case key == "logger":
			line.Logger = new(LoggerCounters)
			err = object(raw, line.Logger)
		case key == "vcpu":
			line.VCPU = new(VCPUCounters)
			err = object(raw, line.VCPU)
		case key == "vsock":
			line.Vsock = new(VsockCounters)
			err = object(raw, line.Vsock)
		case key == "signals":
			line.Signals = new(SignalCounters)
			err = object(raw, line.Signals)
		case key == "seccomp":
			line.Seccomp = new(SeccompCounters)
			err = object(raw, line.Seccomp)
		case key == "vmm":
			line.VMM = new(VMMCounters)
			err = object(raw, line.VMM)
		case strings.HasPrefix(key, "vhost_user_") && len(key) > len("vhost_user_"):
			var c VhostUserCounters
			err = object(raw, &c)
			if line.VhostUser == nil {
				line.VhostUser = map[string]VhostUserCounters{}
			}
			line.VhostUser[key[len("vhost_user_"):]] = c
		case strings.HasPrefix(key, "net_") && len(key) > 4:
			var c NetCounters
			err = object(raw, &c)
			if line.Net == nil {
				line.Net = map[string]NetCounters{}
			}
			line.Net[key[4:]] = c
		case strings.HasPrefix(key, "block_") && len(key) > 6:
			var c BlockCounters
			err = object(raw, &c)
			if line.Block == nil {
				line.Block = map[string]BlockCounters{}
			}
			line.Block[key[6:]] = c
		}
		if err != nil {
			return Line{}, err
		}
	}
	return line, nil
}

// FuzzDecodeLineMatchesEncodingJSON holds DecodeLine's scanner to the
// plain encoding/json decoding: the same lines refused, the same figures
// from the rest.
func FuzzDecodeLineMatchesEncodingJSON(f *testing.F) {
	f.Add(referenceLine(f))
	for _, s := range []string{
		`{"utc_timestamp_ms":1,"net_eth0":{"RX_BYTES_COUNT":3,"rx_bytes_count":4}}`,
		`{"utc_timestamp_ms":1,"id":"vm-1","properties":{"tenant":"acme","a\u00e9":"x"}}`,
		`{"utc_timestamp_ms":1,"properties":{"tenant":1}}`,
		`{"utc_timestamp_ms":1,"properties":null}`,
		`{"utc_timestamp_ms":1,"properties":{"a":"1","a":"2"}}`,
		`{"utc_timestamp_ms":null,"net":{"rx_bytes_count":null},"net":{"tx_fails":2}}`,
		`{"utc_timestamp_ms":1,"net":5,"net":{}}`,
		`{"utc_timestamp_ms":-1e3}`,
		`{"utc_timestamp_ms":1,"block_\u0061":{"read_bytes":18446744073709551616}}`,
		`{"utc_timestamp_ms":1,"logger":{"missed_metrics_count":"1"}}`,
		` {"utc_timestamp_ms":1 , "block" : { "write_count" : 7 , "x" : [ {"}":"]"} ] } } `,
		`{"utc_timestamp_ms":1,"vcpu":{"exit_io_in":2,"exit_io_in_agg":{"sum_us":5,"max_us":"x"},"EXIT_IO_IN_AGG":{"min_us":1}}}`,
		`{"utc_timestamp_ms":1,"vcpu":{"exit_mmio_read_agg":7}}`,
		`{"utc_timestamp_ms":1,"signals":{"ſigbus":1},"vmm":{"panic_count":2,"PANIC_COUNT":3},"vsock":{"conns_Killed":4,"Conns_Added":1}}`,
		"{\"utc_timestamp_ms\":1,\"signals\":{\"sig\xffbus\":1,\"SIGSEGV\":1}}",
		`{"utc_timestamp_ms":1,"vcpu":{"exit_mmio_read_agg":null,"failures":null},"vmm":{"panic_count":1},"seccomp":{"num_faults":1}}`,
		`{"utc_timestamp_ms":1,"vcpu":{"exit_io_out_agg":{"sum_us":-1}}}`,
		`{"utc_timestamp_ms":1,"signals":{"sigsegv":1,"sigpipe":3},"vsock":{"conns_added":2,"rx_bytes_count":9}}`,
		`{"utc_timestamp_ms":1,"vhost_user_block_root":{"init_time_us":30,"activate_fails":1},"vhost_user_":{}}`,
		`{"utc_timestamp_ms":1,"net_a":{},"net_b":{},"net_c":{},"net_d":{},"net_e":{},"net_f":{},"net_g":{},"net_h":{},"net_i":{"tx_fails":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeLine(data)
		want, werr := decodeLineReference(data)
		if err != nil && !errors.Is(err, ErrBadLine) {
			t.Fatalf("error %v does not wrap ErrBadLine", err)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("DecodeLine(%q): error %v; encoding/json: %v", data, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeLine(%q) = %+v; encoding/json: %+v", data, got, want)
		}
	})
}

func TestDecodeLineNonASCIIKeys(t *testing.T) {
	// Keys with escapes and invalid UTF-8 go through encoding/json.
	for _, s := range []string{`{"utc_timestamp_ms":1,"net_\u00e9":{"rx_fails":1}}`, "{\"utc_timestamp_ms\":1,\"net_\xff\":{}}"} {
		got, err := DecodeLine([]byte(s))
		want, werr := decodeLineReference([]byte(s))
		if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %+v %v; encoding/json %+v %v (valid UTF-8: %v)", s, got, err, want, werr, utf8.ValidString(s))
		}
	}
}

// FuzzValidMatchesEncodingJSON holds the validator to json.Valid, for all
// inputs nested less than maxDepth deep.
func FuzzValidMatchesEncodingJSON(f *testing.F) {
	f.Add(referenceLine(f))
	for _, s := range []string{`0`, `-0.5e+3`, `01`, `"\u00e9\ud800"`, `"\x"`, "\"\x01\"", `[1,]`, `{"a":1,}`, `[[[]]]`, ` true `, `nul`, `1.`, `-`, `"\u12"`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) >= maxDepth {
			return
		}
		if got, want := valid(data), json.Valid(data); got != want {
			t.Fatalf("valid(%q) = %v, json.Valid %v", data, got, want)
		}
	})
}
