package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func full() GuestMetrics {
	return GuestMetrics{
		CPUUsagePercent: 45.2, MemoryUsagePercent: 62.5, MemoryUsedKB: 512000,
		MemoryTotalKB: 819200, MemoryAvailableKB: 307200, UptimeSeconds: 12345,
		TimestampMs: 1763840000123, IntervalMs: 1000, BootID: "0d1c1e9e-8c43-4b39-a0f6-8f0e9f1c2a11",
		Hostname: "vm-1", Kernel: "6.1.0-28-amd64", AgentVersion: "v0.1.0", CPUCount: 2,
		CPU:         &CPUBreakdown{User: 30, Nice: 0.5, System: 10, Idle: 54, IOWait: 0.25, IRQ: 0.05, SoftIRQ: 0.1, Steal: 5.1},
		Load:        &Load{Load1: 0.5, Load5: 0.25, Load15: 0.1},
		Memory:      &MemoryDetail{FreeKB: 1, BuffersKB: 2, CachedKB: 3, SwapTotalKB: 4, SwapFreeKB: 5},
		Network:     []NetInterface{{Interface: "eth0", RxBytes: 1 << 40, TxBytes: 2, RxPackets: 3, TxPackets: 4, RxErrors: 5, TxErrors: 6, RxDropped: 7, TxDropped: 8, RxBytesPerSec: 1234.5, TxBytesPerSec: 0.125}},
		Disks:       []Disk{{Device: "vda", ReadBytes: 512, WriteBytes: 1024, Reads: 1, Writes: 2, ReadBytesPerSec: 10, WriteBytesPerSec: 20}},
		Filesystems: []Filesystem{{MountPoint: `/mnt/with "quotes" and \ and ` + "\t", FSType: "ext4", TotalBytes: 100, UsedBytes: 40, AvailableBytes: 55}},
		Pressure:    &Pressure{CPUSomeAvg10: 1.5, MemorySomeAvg10: 2, MemoryFullAvg10: 0.5, IOSomeAvg10: 3, IOFullAvg10: 1},
		Processes:   &Processes{Running: 2, Blocked: 1, Total: 87},
		Errors:      []string{"pressure: not supported <here>"},
	}
}

// TestAppendJSONMatchesEncodingJSON checks that the hand-written encoder and
// the struct tags agree: encoding/json produces the same bytes (it escapes
// <, > and & alike) and decodes our output back to an equal value.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for name, m := range map[string]GuestMetrics{"full": full(), "minimal": {MemoryTotalKB: 1}, "zero": {}} {
		t.Run(name, func(t *testing.T) {
			got := m.AppendJSON(nil)
			want, err := json.Marshal(&m)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("AppendJSON:\n%s\nencoding/json:\n%s", got, want)
			}
			var back GuestMetrics
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("decoding our output: %v\n%s", err, got)
			}
			if !reflect.DeepEqual(back, m) {
				t.Errorf("round trip changed the value:\n got %+v\nwant %+v", back, m)
			}
		})
	}
}

func TestAppendJSONOriginalFieldsFirst(t *testing.T) {
	m := full()
	out := string(m.AppendJSON(nil))
	want := `{"cpu_usage_percent":45.2,"memory_usage_percent":62.5,"memory_used_kb":512000,"memory_total_kb":819200,"memory_available_kb":307200,"uptime_seconds":12345,`
	if !strings.HasPrefix(out, want) {
		t.Errorf("output starts %q, want %q", out[:min(len(out), len(want))], want)
	}
}

func TestAppendJSONNonFinite(t *testing.T) {
	m := GuestMetrics{CPUUsagePercent: math.NaN(), MemoryUsagePercent: math.Inf(1)}
	out := m.AppendJSON(nil)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	if !bytes.HasPrefix(out, []byte(`{"cpu_usage_percent":0,"memory_usage_percent":0,`)) {
		t.Errorf("non-finite values not written as 0: %s", out)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "eth0", "a\"b\\c", "\x00\x1f\x7f", "\xff\xfe", "é€😀", "\u2028\u2029", "<script>&"} {
		f.Add(s, 1.5)
	}
	f.Fuzz(func(t *testing.T, s string, v float64) {
		m := GuestMetrics{Hostname: s, CPUUsagePercent: v, Errors: []string{s},
			Network: []NetInterface{{Interface: s, RxBytesPerSec: v}}}
		out := m.AppendJSON(nil)
		var back GuestMetrics
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("invalid JSON for %q: %v\n%s", s, err, out)
		}
		if utf8.ValidString(s) && s != "" && (back.Hostname != s || back.Network[0].Interface != s || back.Errors[0] != s) {
			t.Fatalf("string %q came back as %q", s, back.Hostname)
		}
		if !math.IsNaN(v) && !math.IsInf(v, 0) && back.CPUUsagePercent != v {
			t.Fatalf("float %v came back as %v", v, back.CPUUsagePercent)
		}
	})
}

func TestValidate(t *testing.T) {
	ok := full()
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid sample refused: %v", err)
	}
	tests := []struct {
		name   string
		change func(*GuestMetrics)
		want   string
	}{
		{"cpu above 100", func(m *GuestMetrics) { m.CPUUsagePercent = 100.5 }, "cpu_usage_percent 100.5 is outside [0, 100]"},
		{"cpu NaN", func(m *GuestMetrics) { m.CPUUsagePercent = math.NaN() }, "cpu_usage_percent NaN"},
		{"memory negative", func(m *GuestMetrics) { m.MemoryUsagePercent = -1 }, "memory_usage_percent -1"},
		{"no memory", func(m *GuestMetrics) { m.MemoryTotalKB = 0 }, "memory_total_kb is 0"},
		{"used above total", func(m *GuestMetrics) { m.MemoryUsedKB = m.MemoryTotalKB + 1 }, "memory_used_kb 819201 exceeds"},
		{"available above total", func(m *GuestMetrics) { m.MemoryAvailableKB = m.MemoryTotalKB + 1 }, "memory_available_kb 819201 exceeds"},
		{"negative rate", func(m *GuestMetrics) { m.Network[0].RxBytesPerSec = -5 }, "network eth0: rate -5"},
		{"infinite disk rate", func(m *GuestMetrics) { m.Disks[0].WriteBytesPerSec = math.Inf(1) }, "disk vda: rate +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := full()
			m.Network = append([]NetInterface(nil), m.Network...)
			m.Disks = append([]Disk(nil), m.Disks...)
			tt.change(&m)
			err := m.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestAppendJSONFloatForms: the exponent forms encoding/json switches to
// for very small and very large magnitudes.
func TestAppendJSONFloatForms(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, 1e-6, 1e-7, 1.5e-9, 123456789012345678901, 1e21, 1e22, -3.25e-8, 5e300} {
		m := GuestMetrics{CPUUsagePercent: f, Load: &Load{Load1: f}}
		got := m.AppendJSON(nil)
		want, _ := json.Marshal(&m)
		if !bytes.Equal(got, want) {
			t.Errorf("%g: %s, encoding/json %s", f, got, want)
		}
	}
}

// FuzzAppendJSONFigures: for any figures, the reflection encoder writes
// what encoding/json writes.
func FuzzAppendJSONFigures(f *testing.F) {
	f.Add(45.2, uint64(512000), int64(1763840000123), "eth0", 1.5e-7, true)
	f.Fuzz(func(t *testing.T, x float64, u uint64, i int64, s string, y float64, some bool) {
		if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return
		}
		m := GuestMetrics{CPUUsagePercent: x, MemoryUsedKB: u, TimestampMs: i, Hostname: s,
			Network: []NetInterface{{Interface: s, RxBytesPerSec: y, RxBytes: u}}}
		if some {
			m.Pressure = &Pressure{IOFullAvg10: y}
			m.Errors = []string{s, s}
		}
		got := m.AppendJSON(nil)
		want, err := json.Marshal(&m)
		if err != nil {
			t.Skip(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON %s\nencoding/json %s", got, want)
		}
		r := GuestIPRequest{GuestIP: s}
		if some {
			p := int(i % 65536)
			r.GuestPort = &p
		}
		if got, want := r.AppendJSON(nil), must(json.Marshal(&r)); !bytes.Equal(got, want) {
			t.Fatalf("GuestIPRequest %s, encoding/json %s", got, want)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
