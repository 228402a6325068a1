package samplepb

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// captured is a GET /v1/samples document from a host agent over a
// Firecracker stand-in and a real guest agent.
func captured(t testing.TB) *wire.HostSamples {
	t.Helper()
	b, err := os.ReadFile("testdata/samples.json")
	if err != nil {
		t.Fatal(err)
	}
	var w wire.HostSamples
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return &w
}

func u(v uint64) *uint64   { return &v }
func i64(v int64) *int64   { return &v }
func f(v float64) *float64 { return &v }

// full has every field set to something other than its zero value.
func full() HostSamples {
	return HostSamples{Host: "fc-17", TimestampMs: 1796058081752, IntervalMs: 1000, VMs: []VM{{
		ID: "vm-1", Discovered: true,
		HasGuest: true, Guest: Guest{CPUUsagePercent: 20.2, MemoryUsagePercent: f(0), MemoryUsedKB: 451104,
			MemoryTotalKB: 24684096, MemoryAvailableKB: 24232992, UptimeSeconds: 7167, TimestampMs: 1796058081125,
			AgeMs: 474, Transport: "vsock", BootID: "f51b3595-4412-4062-89c5-0942ecdeff85", AgentVersion: "v0.2.0",
			HasNetwork: true, Network: Rates{Source: "guest", RxBytesPerSec: 1.5, TxBytesPerSec: 2.5},
			HasDisk: true, Disk: Rates{Source: "guest", RxBytesPerSec: 4096, TxBytesPerSec: 8192},
			OOMKills: u(3), AgentStartedMs: 1796058000000, ClockSkewMs: i64(-420),
			RestoresDetected: u(1), VMGeneration: u(0), ClockStepMs: -60000},
		HasVCPU: true, VCPU: VCPU{Count: 2, UsagePercent: 19.5},
		HasBalloon: true, Balloon: Balloon{TotalKB: u(509440), AvailableKB: u(0), FreeKB: u(344064), AgeMs: 3471, OOMKills: u(2)},
		HasProcess: true, Process: Process{PID: 23259, CPUUsagePercent: 40, VCPUUsagePercent: 39, VCPUThreads: 2, MemoryRSSKB: 8856, UptimeSeconds: 4},
		HasNetwork: true, Network: Rates{Source: "firecracker", RxBytesPerSec: 20013, TxBytesPerSec: 10006, AgeMs: 474},
		HasBlock: true, Block: Rates{Source: "firecracker", RxBytesPerSec: 80052.1, TxBytesPerSec: 40026.05, AgeMs: 474},
		Errors:    map[string]string{"tap": "no such device", "balloon": strings.Repeat("é", 100)},
		Labels:    map[string]string{"tenant": "acme", "template": "py-3.12"},
		HasCgroup: true, Cgroup: Cgroup{Version: 2, Epoch: 1, CPUUsagePercent: 49.5, ThrottledPercent: 31.25, CPUThrottledPeriods: 1310,
			CPUThrottledSeconds: 3.12, CPUUsageSeconds: 8.2, CPUQuotaCores: f(0.5), MemoryCurrentBytes: 536870912, MemoryPeakBytes: u(612368384),
			MemoryLimitBytes: u(1073741824), EventsMax: 12, EventsHigh: 3, EventsOOMKill: 1},
	}, {ID: "bare"}}, Exits: []Exit{{ID: "vm-0", PID: 23001, AtMs: 1796058080000, Reason: "killed by SIGKILL"}, {ID: "vm-9", PID: 9}},
		Clashes: []Clash{{ID: "vm-0", PID: 23002, HolderPID: 23001, RenamedTo: "vm-0@23002", AtMs: 1796058081000}}}
}

func TestRoundTrip(t *testing.T) {
	for name, h := range map[string]HostSamples{"full": full(), "empty": {}} {
		b := Append(nil, &h)
		var d Decoder
		var got HostSamples
		if err := d.Decode(b, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(h.VMs) == 0 {
			h.VMs = got.VMs[:0]
		}
		if len(h.Exits) == 0 {
			h.Exits = got.Exits[:0]
		}
		if len(h.Clashes) == 0 {
			h.Clashes = got.Clashes[:0]
		}
		if !reflect.DeepEqual(got, h) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", name, got, h)
		}
	}
}

func TestFromWireCaptured(t *testing.T) {
	w := captured(t)
	var h HostSamples
	FromWire(w, &h)
	if len(h.VMs) != 1 {
		t.Fatalf("VMs %d", len(h.VMs))
	}
	v := h.VMs[0]
	g := w.VMs[0].Guest
	if !v.HasGuest || v.Guest.CPUUsagePercent != g.CPUUsagePercent || v.Guest.MemoryUsedKB != g.MemoryUsedKB ||
		v.Guest.Transport != "vsock" || v.Guest.BootID != g.BootID || !v.Guest.HasNetwork || !v.Guest.HasDisk {
		t.Errorf("guest %+v", v.Guest)
	}
	if v.Guest.Disk.TxBytesPerSec != g.Disks[0].WriteBytesPerSec {
		t.Errorf("guest disk %+v from %+v", v.Guest.Disk, g.Disks)
	}
	if !v.HasVCPU || v.VCPU.Count != 2 || !v.HasBalloon || *v.Balloon.TotalKB != 509440 || !v.HasProcess || v.Process.VCPUThreads != 2 {
		t.Errorf("vcpu %+v balloon %+v process %+v", v.VCPU, v.Balloon, v.Process)
	}
	if !v.HasNetwork || v.Network.Source != "firecracker" || v.Network.AgeMs != w.TimestampMs-w.VMs[0].Firecracker.LastLineMs {
		t.Errorf("network %+v", v.Network)
	}
	if v.Errors["tap"] == "" {
		t.Errorf("errors %v", v.Errors)
	}
	// Dense is much smaller than JSON.
	js, _ := json.Marshal(w)
	dense := Append(nil, &h)
	t.Logf("one VM: JSON %d bytes, dense %d bytes", len(js), len(dense))
	if len(dense)*5 > len(js) {
		t.Errorf("dense %d bytes is not a fifth of JSON's %d", len(dense), len(js))
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := Append(nil, &HostSamples{Host: "h", VMs: []VM{{ID: "a", HasVCPU: true, VCPU: VCPU{Count: 1}}}})
	tests := map[string][]byte{
		"truncated":         good[:len(good)-1],
		"wrong type":        protowire.AppendVarint(protowire.AppendTag(nil, hostHost, protowire.VarintType), 5),
		"not utf-8":         protowire.AppendString(protowire.AppendTag(nil, hostHost, protowire.BytesType), "\xff"),
		"NaN":               nestedDouble(vmVCPU, vcpuUsage, "NaN"),
		"infinite":          nestedDouble(vmVCPU, vcpuUsage, "+Inf"),
		"bad tag":           {0x00},
		"group":             protowire.AppendTag(nil, 7, protowire.StartGroupType),
		"long string":       protowire.AppendString(protowire.AppendTag(nil, hostHost, protowire.BytesType), strings.Repeat("x", maxStringLen+1)),
		"negative pid":      nestedInt(vmProcess, procPID, -1),
		"vcpu out of range": nestedInt(vmVCPU, vcpuCount, 1<<33),
	}
	for name, b := range tests {
		var d Decoder
		var h HostSamples
		if err := d.Decode(b, &h); err == nil || !errors.Is(err, ErrBad) {
			t.Errorf("%s: error %v", name, err)
		}
	}
	// Unknown fields are skipped.
	b := protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), good...), 99, protowire.VarintType), 1)
	var d Decoder
	var h HostSamples
	if err := d.Decode(b, &h); err != nil || h.Host != "h" || len(h.VMs) != 1 {
		t.Errorf("an unknown field: %v, %+v", err, h)
	}
}

func nestedDouble(sub, field protowire.Number, v string) []byte {
	x, _ := strconv.ParseFloat(v, 64)
	inner := appendDouble(nil, field, x)
	vm := protowire.AppendBytes(protowire.AppendTag(nil, sub, protowire.BytesType), inner)
	return protowire.AppendBytes(protowire.AppendTag(nil, hostVMs, protowire.BytesType), vm)
}

func nestedInt(sub, field protowire.Number, v int64) []byte {
	inner := protowire.AppendVarint(protowire.AppendTag(nil, field, protowire.VarintType), uint64(v))
	vm := protowire.AppendBytes(protowire.AppendTag(nil, sub, protowire.BytesType), inner)
	return protowire.AppendBytes(protowire.AppendTag(nil, hostVMs, protowire.BytesType), vm)
}

// TestSchemaMatchesProto holds the field numbers to docs/samples.proto.
func TestSchemaMatchesProto(t *testing.T) {
	b, err := os.ReadFile("../../../docs/samples.proto")
	if err != nil {
		t.Fatal(err)
	}
	msgRe := regexp.MustCompile(`(?s)message (\w+) \{(.*?)\n\}`)
	fieldRe := regexp.MustCompile(`(?m)^\s+(?:optional |repeated )?[\w<>, ]+? (\w+) = (\d+);`)
	seen := map[string]bool{}
	for _, m := range msgRe.FindAllStringSubmatch(string(b), -1) {
		name := m[1]
		want, ok := schema[name]
		if !ok {
			t.Errorf("message %s is not in the code", name)
			continue
		}
		seen[name] = true
		got := map[string]protowire.Number{}
		for _, fm := range fieldRe.FindAllStringSubmatch(m[2], -1) {
			n, _ := strconv.Atoi(fm[2])
			got[fm[1]] = protowire.Number(n)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %s: .proto has %v, the code %v", name, got, want)
		}
	}
	for name := range schema {
		if !seen[name] {
			t.Errorf("message %s of the code is not in docs/samples.proto", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	h := full()
	f.Add(Append(nil, &h))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Decoder
		var got HostSamples
		if err := d.Decode(data, &got); err != nil {
			if !errors.Is(err, ErrBad) {
				t.Fatalf("error %v does not wrap ErrBad", err)
			}
			return
		}
		// What decodes re-encodes to something that decodes the same.
		var again HostSamples
		if err := d.Decode(Append(nil, &got), &again); err != nil {
			t.Fatalf("re-encoded: %v", err)
		}
		got.VMs, again.VMs = normalize(got.VMs), normalize(again.VMs)
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("re-encoded differs:\n%+v\n%+v", got, again)
		}
	})
}

// normalize makes no VMs one value, nil.
func normalize(vms []VM) []VM {
	if len(vms) == 0 {
		return nil
	}
	return vms
}

func BenchmarkDecode(b *testing.B) {
	h := HostSamples{Host: "fc-17", TimestampMs: 1, IntervalMs: 1000}
	base := full().VMs[0]
	base.Errors = nil
	for i := range 100 {
		v := base
		v.ID = fmt.Sprintf("vm-%03d", i)
		h.VMs = append(h.VMs, v)
	}
	data := Append(nil, &h)
	var d Decoder
	var out HostSamples
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Decode(data, &out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/VM")
	b.ReportMetric(float64(len(data))/100, "bytes/VM")
}

func BenchmarkDecodeJSON(b *testing.B) {
	w := captured(b)
	one := w.VMs[0]
	w.VMs = nil
	for i := range 100 {
		v := one
		v.ID = fmt.Sprintf("vm-%03d", i)
		w.VMs = append(w.VMs, v)
	}
	data, _ := json.Marshal(w)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var x wire.HostSamples
		if err := json.Unmarshal(data, &x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/VM")
	b.ReportMetric(float64(len(data))/100, "bytes/VM")
}
