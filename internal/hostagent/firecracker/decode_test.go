package firecracker

import (
	"errors"
	"testing"
)

func TestDecodeReferenceLine(t *testing.T) {
	l, err := DecodeLine(referenceLine(t))
	if err != nil {
		t.Fatal(err)
	}
	if l.TimestampMs != 1767225600123 {
		t.Errorf("TimestampMs = %d", l.TimestampMs)
	}
	want := NetCounters{RxBytes: 2345678, TxBytes: 345678, RxPackets: 1820, TxPackets: 1410}
	if l.Net["eth0"] != want || l.NetAll == nil || *l.NetAll != want {
		t.Errorf("net = %+v, all %+v; want %+v", l.Net, l.NetAll, want)
	}
	wantBlk := BlockCounters{ReadBytes: 1048576, WriteBytes: 4194304, ReadCount: 64, WriteCount: 120, FlushCount: 9}
	if l.Block["rootfs"] != wantBlk || l.BlockAll == nil || *l.BlockAll != wantBlk {
		t.Errorf("block = %+v, all %+v; want %+v", l.Block, l.BlockAll, wantBlk)
	}
	if l.Logger == nil || l.Logger.MissedMetrics != 0 {
		t.Errorf("logger = %+v", l.Logger)
	}
	if len(l.Net) != 1 || len(l.Block) != 1 {
		t.Errorf("devices: net %v block %v", l.Net, l.Block)
	}
}

func TestDecodeLineTolerance(t *testing.T) {
	tests := []struct {
		name, line string
		ok         bool
	}{
		{"minimal", `{"utc_timestamp_ms":1}`, true},
		{"unknown section", `{"utc_timestamp_ms":1,"future":{"x":[1,2]},"net_eth0":{"rx_bytes_count":5,"new_field":{"a":1}}}`, true},
		{"unknown scalar", `{"utc_timestamp_ms":1,"version":"1.99"}`, true},
		{"net_ without id is ignored", `{"utc_timestamp_ms":1,"net_":5}`, true},
		{"other section of wrong type ignored", `{"utc_timestamp_ms":1,"mmds":null}`, true},
		{"missing timestamp", `{"net":{}}`, false},
		{"timestamp not a number", `{"utc_timestamp_ms":"1"}`, false},
		{"net not an object", `{"utc_timestamp_ms":1,"net":[]}`, false},
		{"net null", `{"utc_timestamp_ms":1,"net_eth0":null}`, false},
		{"negative counter", `{"utc_timestamp_ms":1,"block":{"read_bytes":-1}}`, false},
		{"fractional counter", `{"utc_timestamp_ms":1,"logger":{"missed_metrics_count":1.5}}`, false},
		{"truncated", `{"utc_timestamp_ms":1,"net":{"rx_bytes_co`, false},
		{"array", `[1]`, false},
		{"null", `null`, false},
		{"empty", ``, false},
		{"junk prefix", `xx{"utc_timestamp_ms":1}`, false},
		{"two objects", `{"utc_timestamp_ms":1}{"utc_timestamp_ms":2}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeLine([]byte(tt.line))
			if (err == nil) != tt.ok {
				t.Fatalf("DecodeLine(%s) error = %v, want ok=%v", tt.line, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadLine) {
				t.Fatalf("error %v does not wrap ErrBadLine", err)
			}
		})
	}
}

func TestDecodeMissingSections(t *testing.T) {
	l, err := DecodeLine(newLine(t, 5).drop("net").drop("block_rootfs").drop("logger").bytes())
	if err != nil {
		t.Fatal(err)
	}
	if l.NetAll != nil || l.Logger != nil || len(l.Block) != 0 || l.BlockAll == nil || l.Net["eth0"].RxBytes != 2345678 {
		t.Fatalf("got %+v", l)
	}
}

func TestRecover(t *testing.T) {
	whole := `{"utc_timestamp_ms":7,"net":{"rx_bytes_count":1}}`
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`junk` + whole, whole, true},
		{`_count":0}}` + whole, whole, true},
		{`{"utc_timestamp_ms":6,"net":{"rx_by` + whole, whole, true},
		{whole, "", false},
		{`garbage`, "", false},
	}
	for _, tt := range tests {
		got, ok := Recover([]byte(tt.in))
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("Recover(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
