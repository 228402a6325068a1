package procfs

import "testing"

func TestParseUptime(t *testing.T) {
	runParseCases(t, parseUptime, []parseCase[float64]{
		{name: "captured", in: "249.34 466.82\n", want: 249.34},
		{name: "integers", in: "5 9\n", want: 5},
		{name: "empty", in: "", err: "line 1: want 2 fields"},
		{name: "one field", in: "249.34\n", err: "line 1: want 2 fields"},
		{name: "three fields", in: "1.0 2.0 3.0\n", err: `line 1: unexpected field "3.0"`},
		{name: "negative", in: "-1.00 2.00\n", err: `uptime "-1.00": not a number`},
		{name: "nan", in: "NaN 2.00\n", err: "not a number"},
		{name: "bad idle", in: "1.00 x\n", err: `idle time "x"`},
		{name: "second line", in: "1.00 2.00\n3 4\n", err: "line 2: unexpected second line"},
		{name: "truncated", in: "1.00 2.0", err: "line 1: truncated"},
	})
}

func TestParseLoadAvg(t *testing.T) {
	runParseCases(t, parseLoadAvg, []parseCase[LoadAvg]{
		{name: "captured", in: "0.02 0.06 0.02 1/85 3246\n", want: LoadAvg{0.02, 0.06, 0.02, 1, 85}},
		{name: "busy", in: "64.50 32.25 16.00 65/2048 4194304\n", want: LoadAvg{64.5, 32.25, 16, 65, 2048}},
		{name: "empty", in: "", err: "want 5 fields"},
		{name: "four fields", in: "0.02 0.06 0.02 1/85\n", err: "line 1: want 5 fields"},
		{name: "bad load", in: "0.02 x 0.02 1/85 3\n", err: `5m load "x"`},
		{name: "exponent", in: "1e2 0.06 0.02 1/85 3\n", err: `1m load "1e2"`},
		{name: "no slash", in: "0.02 0.06 0.02 185 3\n", err: `want runnable/total, got "185"`},
		{name: "bad runnable", in: "0.02 0.06 0.02 a/85 3\n", err: "runnable count"},
		{name: "bad total", in: "0.02 0.06 0.02 1/ 3\n", err: "thread count"},
		{name: "bad pid", in: "0.02 0.06 0.02 1/85 -3\n", err: "last pid"},
		{name: "second line", in: "0.02 0.06 0.02 1/85 3\nx\n", err: "line 2"},
		{name: "truncated", in: "0.02 0.06", err: "line 1: truncated"},
	})
}
