package procstat

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTrackerWindows(t *testing.T) {
	busy := startHelper(t, "busy")
	idleStart := time.Now()
	idle := startHelper(t, "sleep")
	tr := NewTracker(newReader(t), time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tr.Run(ctx)

	tr.Acquire(busy.Process.Pid)
	first, err := tr.Stats(idle.Process.Pid) // ad hoc: lifetime average
	if err != nil {
		t.Fatal(err)
	}
	if a, h := tr.Tracked(); a != 1 || h != 1 {
		t.Fatalf("tracked %d acquired, %d ad hoc; want 1, 1", a, h)
	}
	time.Sleep(2300 * time.Millisecond)

	// The tracker's figure must be the one a direct reading of the same
	// window gives: the CPU arithmetic itself is TestBusyProcess's subject.
	st, err := tr.Stats(busy.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.WindowMs < 500 || st.WindowMs > 2500 || st.CPUSecondsTotal == 0 {
		t.Errorf("busy: window %d ms, %+v", st.WindowMs, st)
	}
	tr.mu.Lock()
	e := tr.pids[busy.Process.Pid]
	direct := windowStats(e.prev, e.last)
	tr.mu.Unlock()
	if direct.CPUUsagePercent != st.CPUUsagePercent && st.TimestampMs == direct.TimestampMs {
		t.Errorf("tracker says %.1f%%, its window %.1f%%", st.CPUUsagePercent, direct.CPUUsagePercent)
	}
	t.Logf("busy child: %.1f%% over %d ms", st.CPUUsagePercent, st.WindowMs)
	later, err := tr.Stats(idle.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if first.WindowMs > time.Since(idleStart).Milliseconds() || later.WindowMs < 500 || later.WindowMs > 2500 || later.CPUUsagePercent >= 5 {
		t.Errorf("ad hoc: first window %d ms, later %+v", first.WindowMs, later)
	}

	tr.Release(busy.Process.Pid)
	if a, _ := tr.Tracked(); a != 0 {
		t.Errorf("still %d acquired after Release", a)
	}
}

func TestTrackerForgetsIdleAndGone(t *testing.T) {
	r := newReader(t)
	tr := NewTracker(r, time.Second)
	tr.IdleTTL = 0
	if _, err := tr.Stats(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	tr.sampleAll()
	if _, h := tr.Tracked(); h != 0 {
		t.Errorf("idle ad-hoc pid still tracked")
	}
	tr.MaxAdHoc = 0
	if _, err := tr.Stats(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, h := tr.Tracked(); h != 0 {
		t.Errorf("ad-hoc pid tracked beyond MaxAdHoc")
	}
}

func TestEntryPidReuse(t *testing.T) {
	at := time.Now()
	s := func(start, cpu uint64, dt time.Duration) Sample {
		return Sample{PID: 7, StartTicks: start, CPUTicks: cpu, At: at.Add(dt)}
	}
	acquired := &entry{refs: 1}
	acquired.observe(s(100, 0, 0), nil, 0)
	acquired.observe(s(100, 50, time.Second), nil, 0)
	acquired.observe(s(999, 0, 2*time.Second), nil, 0)
	if !errors.Is(acquired.gone, ErrNotFound) {
		t.Errorf("acquired entry followed a recycled pid")
	}
	adHoc := &entry{}
	adHoc.observe(s(100, 0, 0), nil, 0)
	adHoc.observe(s(999, 10, time.Second), nil, 0)
	if adHoc.gone != nil || adHoc.n != 1 || adHoc.start != 999 {
		t.Errorf("ad-hoc entry did not start over: %+v", adHoc)
	}
	// A reading soon after the last extends the window.
	e := &entry{}
	e.observe(s(100, 0, 0), nil, 0)
	e.observe(s(100, 100, time.Second), nil, 0)
	e.observe(s(100, 110, 1100*time.Millisecond), nil, 500*time.Millisecond)
	if w := windowStats(e.prev, e.last); w.WindowMs != 1100 || w.CPUUsagePercent != 100 {
		t.Errorf("extended window = %+v", w)
	}
	if st := windowStats(s(100, 0, 0), s(100, 50, time.Second)); st.CPUUsagePercent != 50 || st.WindowMs != 1000 {
		t.Errorf("windowStats = %+v", st)
	}
}

// statLine is a /proc/<pid>/stat line with the fields the reader uses set.
func statLine(pid int, comm string, utime, stime, threads, start, rssPages int) string {
	f := strings.Fields("S 1 1 1 0 -1 4194304 100 0 0 0 U S 0 0 20 0 T 0 ST 3133440 RSS 18446744073709551615 1 2 3 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 1 2 3 4 5 6 7 0")
	for i, v := range f {
		switch v {
		case "U":
			f[i] = strconv.Itoa(utime)
		case "S":
			if i > 0 {
				f[i] = strconv.Itoa(stime)
			}
		case "T":
			f[i] = strconv.Itoa(threads)
		case "ST":
			f[i] = strconv.Itoa(start)
		case "RSS":
			f[i] = strconv.Itoa(rssPages)
		}
	}
	return strconv.Itoa(pid) + " (" + comm + ") " + strings.Join(f, " ") + "\n"
}

func TestReaderFixture(t *testing.T) {
	root := t.TempDir()
	write := func(path, data string) {
		p := filepath.Join(root, path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("uptime", "1000.50 1900.00\n")
	write("42/stat", statLine(42, "firecracker", 700, 300, 5, 50000, 2560))
	threads := map[int]string{42: "firecracker", 43: "fc_api", 44: "fc_vcpu 0", 45: "fc_vcpu 1", 46: "fc_vcpu x"}
	for tid, comm := range threads {
		write("42/task/"+strconv.Itoa(tid)+"/stat", statLine(tid, comm, tid, 100, 1, 50000, 0))
	}
	r, err := NewReader(root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Read(42)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUTicks != 1000 || s.VCPUTicks != 44+100+45+100 || s.VCPUThreads != 2 || s.Threads != 5 ||
		s.RSSBytes != 2560*uint64(os.Getpagesize()) || s.UptimeSec != 500.5 || s.Comm != "firecracker" {
		t.Fatalf("sample %+v", s)
	}
	lt := lifetimeStats(s)
	if lt.CPUSecondsTotal != 10 || lt.UptimeSeconds != 500 || lt.WindowMs != 500500 || lt.CPUUsagePercent != 2 {
		t.Fatalf("lifetime %+v", lt)
	}
	write("43/stat", statLine(43, "dead", 1, 1, 1, 1, 1)[:0]+"43 (dead) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
	if _, err := r.Read(43); !errors.Is(err, ErrNotFound) {
		t.Errorf("zombie fixture: %v", err)
	}
	if _, err := r.Read(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing pid: %v", err)
	}
}
