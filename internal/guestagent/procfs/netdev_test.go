package procfs

import "testing"

const netDevHeader = "Inter-|   Receive                                                |  Transmit\n" +
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"

func TestParseNetDev(t *testing.T) {
	runParseCases(t, parseNetDev, []parseCase[[]NetDev]{
		{
			name: "two interfaces",
			in: netDevHeader +
				"    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n" +
				"  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
			want: []NetDev{
				{Name: "lo", RxBytes: 3193, RxPackets: 29, TxBytes: 3193, TxPackets: 29},
				{Name: "eth0", RxBytes: 1, RxPackets: 2, RxErrors: 3, RxDropped: 4, TxBytes: 9, TxPackets: 10, TxErrors: 11, TxDropped: 12},
			},
		},
		{
			name: "no blank after colon",
			in:   netDevHeader + "eth0:18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			want: []NetDev{{Name: "eth0", RxBytes: 1<<64 - 1}},
		},
		{
			name: "names with dots and dashes",
			in:   netDevHeader + "eth0.100: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\nveth-a_b: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
			want: []NetDev{{Name: "eth0.100"}, {Name: "veth-a_b"}},
		},
		{name: "headers only", in: netDevHeader, want: []NetDev{}},
		{name: "empty", in: "", err: "line 1: missing header line"},
		{name: "no header", in: "eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", err: "line 1: missing header line"},
		{name: "no colon", in: netDevHeader + "eth0 1 2\n", err: `line 3: no "name:"`},
		{name: "empty name", in: netDevHeader + " : 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", err: "line 3: bad interface name"},
		{name: "blank in name", in: netDevHeader + "a b: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", err: "bad interface name"},
		{name: "15 columns", in: netDevHeader + "eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", err: "line 3: eth0: 15 columns, want 16"},
		{name: "17 columns", in: netDevHeader + "eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", err: "more than 16 columns"},
		{name: "non-numeric", in: netDevHeader + "eth0: 0 0 0 0 0 0 0 0 x 0 0 0 0 0 0 0\n", err: `eth0 column 9 "x"`},
		{name: "overflow", in: netDevHeader + "eth0: 18446744073709551616 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", err: "out of range"},
		{name: "truncated", in: netDevHeader + "eth0: 0 0", err: "line 3: truncated"},
	})
}
