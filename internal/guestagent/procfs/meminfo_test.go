package procfs

import (
	"math"
	"testing"
)

func TestParseMemInfo(t *testing.T) {
	runParseCases(t, parseMemInfo, []parseCase[MemInfo]{
		{
			name: "modern",
			in: "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    600 kB\nBuffers:          10 kB\n" +
				"Cached:          200 kB\nSwapTotal:        50 kB\nSwapFree:         40 kB\nActive(anon):      1 kB\n" +
				"SReclaimable:     30 kB\nHugePages_Total:       2\n",
			want: MemInfo{
				TotalKB: 1000, FreeKB: 100, AvailableKB: 600, BuffersKB: 10, CachedKB: 200,
				SReclaimableKB: 30, SwapTotalKB: 50, SwapFreeKB: 40, HasAvailable: true,
				Fields: []MemField{
					{"MemTotal", 1000, true}, {"MemFree", 100, true}, {"MemAvailable", 600, true},
					{"Buffers", 10, true}, {"Cached", 200, true}, {"SwapTotal", 50, true},
					{"SwapFree", 40, true}, {"Active(anon)", 1, true}, {"SReclaimable", 30, true},
					{"HugePages_Total", 2, false},
				},
			},
		},
		{
			name: "no blank after colon",
			in:   "MemTotal:34359738367 kB\n",
			want: MemInfo{TotalKB: 34359738367, Fields: []MemField{{"MemTotal", 34359738367, true}}},
		},
		{name: "empty", in: "", err: "no MemTotal line"},
		{name: "no MemTotal", in: "MemFree: 1 kB\n", err: "no MemTotal line"},
		{name: "no colon", in: "MemTotal 1 kB\n", err: `line 1: no "name:"`},
		{name: "empty name", in: ": 1 kB\n", err: `line 1: no "name:"`},
		{name: "blank in name", in: "Mem Total: 1 kB\n", err: `line 1: bad name "Mem Total"`},
		{name: "non-numeric", in: "MemTotal: 1 kB\nMemFree: lots kB\n", err: `line 2: MemFree value "lots": not a number`},
		{name: "missing value", in: "MemTotal:\n", err: `MemTotal value "": not a number`},
		{name: "wrong unit", in: "MemTotal: 1 MB\n", err: `line 1: MemTotal: unexpected " MB" after value`},
		{name: "extra field", in: "MemTotal: 1 kB x\n", err: "unexpected"},
		{name: "overflow", in: "MemTotal: 18446744073709551616 kB\n", err: "out of range"},
		{name: "known field without unit", in: "MemTotal: 5\n", err: "MemTotal: missing kB unit"},
		{name: "truncated", in: "MemTotal: 1 kB\nMemFr", err: "line 2: truncated"},
	})
}

func TestMemInfoAvailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    MemInfo
		want uint64
	}{
		{"MemAvailable", MemInfo{TotalKB: 1000, AvailableKB: 700, FreeKB: 1, HasAvailable: true}, 700},
		{"MemAvailable of 0", MemInfo{TotalKB: 1000, FreeKB: 500, HasAvailable: true}, 0},
		{"MemAvailable above total", MemInfo{TotalKB: 1000, AvailableKB: 1200, HasAvailable: true}, 1000},
		{"estimate", MemInfo{TotalKB: 1000, FreeKB: 100, BuffersKB: 20, CachedKB: 300, SReclaimableKB: 40}, 460},
		{"estimate clamped", MemInfo{TotalKB: 1000, FreeKB: 900, CachedKB: 300}, 1000},
		{"estimate saturates", MemInfo{TotalKB: 10, FreeKB: math.MaxUint64, CachedKB: 5}, 10},
	} {
		if got := tc.m.Available(); got != tc.want {
			t.Errorf("%s: Available() = %d, want %d", tc.name, got, tc.want)
		}
	}
}
