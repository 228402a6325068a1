package procfs

import "testing"

func TestParseStat(t *testing.T) {
	const tail = "ctxt 10\nbtime 20\n"
	runParseCases(t, parseStat, []parseCase[Stat]{
		{
			name: "modern 10 columns",
			in: "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 10\n" +
				"intr 100 1 2 3\nctxt 10\nbtime 20\nprocesses 30\nprocs_running 4\nprocs_blocked 5\nsoftirq 9 9 9\n",
			want: Stat{
				Total:    CPUTimes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
				PerCPU:   []CPUStat{{0, CPUTimes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}},
				BootTime: 20, ContextSwitches: 10, Interrupts: 100, Forks: 30, ProcsRunning: 4, ProcsBlocked: 5,
			},
		},
		{
			name: "2.6.9 has 7 columns",
			in:   "cpu  1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\n" + tail,
			want: Stat{
				Total:    CPUTimes{User: 1, Nice: 2, System: 3, Idle: 4, IOWait: 5, IRQ: 6, SoftIRQ: 7},
				PerCPU:   []CPUStat{{0, CPUTimes{User: 1, Nice: 2, System: 3, Idle: 4, IOWait: 5, IRQ: 6, SoftIRQ: 7}}},
				BootTime: 20, ContextSwitches: 10,
			},
		},
		{
			name: "2.4 has 4 columns",
			in:   "cpu 1 2 3 4\n" + tail,
			want: Stat{Total: CPUTimes{User: 1, Nice: 2, System: 3, Idle: 4}, BootTime: 20, ContextSwitches: 10},
		},
		{
			name: "future columns are ignored",
			in:   "cpu 1 2 3 4 5 6 7 8 9 10 11 12\n" + tail,
			want: Stat{Total: CPUTimes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, BootTime: 20, ContextSwitches: 10},
		},
		{
			name: "sparse cpu ids and unknown lines",
			in:   "cpu 1 1 1 1\ncpu0 1 1 1 1\ncpu3 2 2 2 2\npage 5 6\nswap 1 2\n" + tail,
			want: Stat{
				Total:    CPUTimes{User: 1, Nice: 1, System: 1, Idle: 1},
				PerCPU:   []CPUStat{{0, CPUTimes{User: 1, Nice: 1, System: 1, Idle: 1}}, {3, CPUTimes{User: 2, Nice: 2, System: 2, Idle: 2}}},
				BootTime: 20, ContextSwitches: 10,
			},
		},
		{
			name: "max uint64",
			in:   "cpu 18446744073709551615 0 0 0\n" + tail,
			want: Stat{Total: CPUTimes{User: 1<<64 - 1}, BootTime: 20, ContextSwitches: 10},
		},
		{name: "empty", in: "", err: `no "cpu" line`},
		{name: "3 columns", in: "cpu 1 2 3\n" + tail, err: "line 1: cpu: 3 columns, want at least 4"},
		{name: "per-cpu 3 columns", in: "cpu 1 2 3 4\ncpu0 1 2 3\n" + tail, err: "line 2: cpu0: 3 columns"},
		{name: "non-numeric", in: "cpu 1 2 x 4\n" + tail, err: `line 1: cpu column 3 "x": not a number`},
		{name: "negative", in: "cpu 1 2 -3 4\n" + tail, err: `"-3": not a number`},
		{name: "overflow", in: "cpu 18446744073709551616 0 0 0\n" + tail, err: "out of range"},
		{name: "bad cpu name", in: "cpu 1 2 3 4\ncpuX 1 2 3 4\n" + tail, err: `line 2: bad cpu line name "cpuX"`},
		{name: "huge cpu id", in: "cpu 1 2 3 4\ncpu99999999 1 2 3 4\n" + tail, err: "bad cpu line name"},
		{name: "no btime", in: "cpu 1 2 3 4\nctxt 10\n", err: `no "btime" line`},
		{name: "no ctxt", in: "cpu 1 2 3 4\nbtime 10\n", err: `no "ctxt" line`},
		{name: "duplicate cpu", in: "cpu 1 2 3 4\ncpu 1 2 3 4\n" + tail, err: `line 2: duplicate "cpu" line`},
		{name: "btime garbage", in: "cpu 1 2 3 4\nctxt 10\nbtime abc\n", err: `line 3: btime value "abc"`},
		{name: "btime extra field", in: "cpu 1 2 3 4\nctxt 10\nbtime 1 2\n", err: "line 3: btime: unexpected field"},
		{name: "btime empty", in: "cpu 1 2 3 4\nctxt 10\nbtime\n", err: `btime value ""`},
		{name: "truncated", in: "cpu 1 2 3 4\nctxt 10\nbtime 1", err: "line 3: truncated"},
	})
}

func TestCPUTimesTotal(t *testing.T) {
	c := CPUTimes{User: 10, Nice: 1, System: 5, Idle: 80, IOWait: 2, IRQ: 1, SoftIRQ: 1, Steal: 3, Guest: 4, GuestNice: 1}
	if c.Total() != 103 || c.IdleTotal() != 82 {
		t.Errorf("Total() = %d, IdleTotal() = %d; want 103, 82", c.Total(), c.IdleTotal())
	}
}
