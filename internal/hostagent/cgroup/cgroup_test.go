package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func fixture(t *testing.T) (FS, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/v2")); err != nil {
		t.Fatal(err)
	}
	return FS{Root: filepath.Join(dir, "sys/fs/cgroup"), Proc: filepath.Join(dir, "proc")}, filepath.Join(dir, "sys/fs/cgroup/firecracker/vm-7")
}

// TestV2Fixture: a jailer's cgroup v2, laid out as a 6.x kernel has it.
func TestV2Fixture(t *testing.T) {
	fs, _ := fixture(t)
	m, err := fs.Membership(4242)
	if err != nil || m.V2 != "/firecracker/vm-7" || m.V1 != nil {
		t.Fatalf("Membership = %+v, %v", m, err)
	}
	r, err := fs.Read(m)
	if err != nil {
		t.Fatal(err)
	}
	st := stats(r)
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("version", st.Version, 2)
	check("cpu usage", st.CPUUsageSeconds, 8.213455)
	check("cpu user", st.CPUUserSeconds, 7.012003)
	check("quota cores", *st.CPUQuotaCores, 0.5)
	check("period", st.CPUPeriodUs, uint64(100000))
	check("throttled periods", st.CPUThrottledPeriods, uint64(1310))
	check("throttled seconds", st.CPUThrottledSeconds, 3.120441)
	check("memory current", st.MemoryCurrentBytes, uint64(536870912))
	check("memory peak", *st.MemoryPeakBytes, uint64(612368384))
	check("memory limit", *st.MemoryLimitBytes, uint64(1073741824))
	check("memory high (max: none)", st.MemoryHighBytes == nil, true)
	check("anon", st.MemoryAnonBytes, uint64(402653184))
	check("file", st.MemoryFileBytes, uint64(117440512))
	check("events", st.MemoryEvents.Max+st.MemoryEvents.OOMKill, uint64(13))
	check("io devices", len(st.IO), 2)
	check("io read", st.IO[0].ReadBytes, uint64(1048576000))
	check("io write ops", st.IO[0].WriteOps, uint64(12800))
	check("cpu pressure", st.Pressure["cpu"].SomeAvg10, 12.5)
	check("io full total", *st.Pressure["io"].FullTotalSeconds, 0.080211)
}

// TestEpochs: a window's rates; counters that go back start a new epoch
// with no rate across it.
func TestEpochs(t *testing.T) {
	fs, dir := fixture(t)
	tr := NewTracker(fs, time.Second)
	tr.Acquire(4242)
	write := func(usage, periods, throttled uint64) {
		t.Helper()
		body := "usage_usec " + itoa(usage) + "\nuser_usec 0\nsystem_usec 0\nnr_periods " + itoa(periods) +
			"\nnr_throttled " + itoa(throttled) + "\nthrottled_usec " + itoa(throttled*3000) + "\n"
		if err := os.WriteFile(filepath.Join(dir, "cpu.stat"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(9_000_000, 5000, 1310)
	time.Sleep(100 * time.Millisecond)
	tr.ReadAll()
	st, err := tr.Stats(4242)
	if err != nil || st.WindowMs < 90 || st.ThrottledPercent != 0 || st.CPUUsagePercent <= 0 || st.Epoch != 0 {
		t.Fatalf("after one window: %+v, %v", st, err)
	}
	write(9_000_000, 5100, 1360) // half the window's periods throttled
	time.Sleep(50 * time.Millisecond)
	tr.ReadAll()
	if st, _ := tr.Stats(4242); st.ThrottledPercent != 50 || st.CPUUsagePercent != 0 {
		t.Errorf("throttled half: %+v", st)
	}
	write(100, 10, 0) // a new VM in the old cgroup
	tr.ReadAll()
	st, _ = tr.Stats(4242)
	if st.Epoch != 1 || st.WindowMs != 0 || st.CPUUsagePercent < 0 || st.CPUPeriods != 10 {
		t.Errorf("after the counters went back: %+v", st)
	}
	tr.Release(4242)
	if st, err := tr.Stats(4242); st != nil || err != nil {
		t.Errorf("released: %+v, %v", st, err)
	}
}

// TestCountersEveryRoundRestEveryTenth: between full reads a round reads
// the counters only and keeps the limit of the last full read; the tenth
// round reads the new limit; a process moved to another cgroup has that
// one read in full at once.
func TestCountersEveryRoundRestEveryTenth(t *testing.T) {
	fs, dir := fixture(t)
	tr := NewTracker(fs, time.Second)
	tr.Acquire(4242) // a full read
	put := func(path, body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put(filepath.Join(dir, "memory.max"), "2147483648\n")
	put(filepath.Join(dir, "memory.current"), "600000000\n")
	for round := 1; round < fullEvery; round++ {
		tr.ReadAll()
		st, err := tr.Stats(4242)
		if err != nil || st.MemoryCurrentBytes != 600000000 || *st.MemoryLimitBytes != 1<<30 {
			t.Fatalf("round %d: current %d, limit %d (want the new current, the old limit), %v", round, st.MemoryCurrentBytes, *st.MemoryLimitBytes, err)
		}
		if st.IO == nil || st.Pressure == nil || st.MemoryAnonBytes == 0 || st.CPUQuotaCores == nil {
			t.Fatalf("round %d: the carried parts are lost: %+v", round, st)
		}
	}
	tr.ReadAll()
	if st, _ := tr.Stats(4242); *st.MemoryLimitBytes != 2<<30 {
		t.Errorf("round %d: limit %d, want the new 2 GiB", fullEvery, *st.MemoryLimitBytes)
	}

	// Moved: a cgroup with another limit, read in full on the next round.
	other := filepath.Join(filepath.Dir(dir), "vm-8")
	if err := os.CopyFS(other, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	put(filepath.Join(other, "memory.max"), "268435456\n")
	put(filepath.Join(fs.Proc, "4242", "cgroup"), "0::/firecracker/vm-8\n")
	tr.ReadAll()
	if st, _ := tr.Stats(4242); st.Path != "/firecracker/vm-8" || *st.MemoryLimitBytes != 256<<20 || st.Epoch != 1 {
		t.Errorf("moved: %s, limit %d, epoch %d; want vm-8's 256 MiB in a new epoch", st.Path, *st.MemoryLimitBytes, st.Epoch)
	}
}

// TestFinalReadsTheCgroupLastRead: a process whose /proc/PID/cgroup names
// the root as it dies (v1 moves an exiting task there) and whose last
// round read that is read, at its end, in the cgroup it was in: the OOM
// kill that ended it is counted.
func TestFinalReadsTheCgroupLastRead(t *testing.T) {
	fs, dir := fixture(t)
	tr := NewTracker(fs, time.Second)
	tr.Acquire(4242)
	if st, err := tr.Stats(4242); err != nil || st.MemoryEvents.OOMKill != 1 {
		t.Fatalf("before: %+v, %v", st, err)
	}
	if err := os.WriteFile(filepath.Join(fs.Proc, "4242", "cgroup"), []byte("0::/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range membershipEvery { // until a round re-reads the membership
		tr.ReadAll()
	}
	if _, err := tr.Stats(4242); !errors.Is(err, ErrRoot) {
		t.Fatalf("the dying process's membership was not re-read: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "memory.events"), []byte("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := tr.Final(4242)
	if st == nil || st.MemoryEvents.OOMKill != 2 || st.Path != "/firecracker/vm-7" {
		t.Errorf("final: %+v, want vm-7's 2 OOM kills", st)
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestRootAndMissing(t *testing.T) {
	fs, _ := fixture(t)
	if _, err := fs.Read(Membership{V2: "/"}); err != ErrRoot {
		t.Errorf("the root cgroup: %v", err)
	}
	if _, err := fs.Read(Membership{V2: "/firecracker/gone"}); err == nil || !strings.Contains(err.Error(), "no cgroup v2 files") {
		t.Errorf("a cgroup that is gone: %v", err)
	}
	if _, err := fs.Membership(1); err == nil {
		t.Error("a process not in the fixture has a membership")
	}
}

func TestParsers(t *testing.T) {
	m, err := parseProcCgroup([]byte("9:name=systemd:/\n4:memory:/firecracker/a\n2:cpu,cpuacct:/firecracker/a\n0::/\n"))
	if err != nil || m.V1["memory"] != "/firecracker/a" || m.V1["cpuacct"] != "/firecracker/a" || m.V1["name=systemd"] != "" || m.V2 != "/" {
		t.Errorf("hybrid membership: %+v, %v", m, err)
	}
	for _, bad := range []string{"x", "1:cpu", "a:cpu:/x", "1:cpu:relative"} {
		if _, err := parseProcCgroup([]byte(bad)); err == nil {
			t.Errorf("parseProcCgroup(%q) accepted", bad)
		}
	}
	if _, _, ok, err := parseCPUMax([]byte("max 100000\n")); ok || err != nil {
		t.Errorf("cpu.max without a quota: %v %v", ok, err)
	}
	for _, bad := range []string{"", "50000", "50000 0", "x 100000", "50000 100000 1"} {
		if _, _, _, err := parseCPUMax([]byte(bad)); err == nil {
			t.Errorf("parseCPUMax(%q) accepted", bad)
		}
	}
	devs := map[string]*IO{}
	if err := parseBlkio([]byte("8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\nTotal 12288\n"), devs, true); err != nil || devs["8:0"].WriteBytes != 8192 {
		t.Errorf("blkio: %+v, %v", devs["8:0"], err)
	}
	for _, bad := range []string{"8:0 Read", "x Read 1", "8:0 Read -1"} {
		if err := parseBlkio([]byte(bad), map[string]*IO{}, true); err == nil {
			t.Errorf("parseBlkio(%q) accepted", bad)
		}
	}
	if p, err := parsePSI([]byte("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n")); err != nil || p.HasFull || p.SomeTotalUs != 5 {
		t.Errorf("cpu.pressure without full: %+v, %v", p, err)
	}
	for _, bad := range []string{"", "full avg10=1 total=1", "some avg10=200 total=1", "some avg10 total=1", "most avg10=1"} {
		if _, err := parsePSI([]byte(bad)); err == nil {
			t.Errorf("parsePSI(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"259:0 rbytes=x", "sda rbytes=1", "259:0 rbytes"} {
		if _, err := parseIOStat([]byte(bad)); err == nil {
			t.Errorf("parseIOStat(%q) accepted", bad)
		}
	}
}

func FuzzParsers(f *testing.F) {
	for _, s := range []string{"0::/firecracker/a\n", "2:cpu,cpuacct:/x\n", "usage_usec 1\nnr_periods 2\n", "max 100000",
		"8:0 Read 1\nTotal 1\n", "259:0 rbytes=1 wbytes=2 rios=3 wios=4\n", "some avg10=1.00 avg60=0 avg300=0 total=9\nfull avg10=0 total=1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := parseProcCgroup(b); err == nil {
			for c, p := range m.V1 {
				if c == "" || !strings.HasPrefix(p, "/") {
					t.Fatalf("membership %q → %q", c, p)
				}
			}
		}
		_ = parseKeyed(b, func(string, uint64) {})
		if _, period, _, err := parseCPUMax(b); err == nil && period == 0 {
			t.Fatal("a zero period accepted")
		}
		if ios, err := parseIOStat(b); err == nil {
			for _, d := range ios {
				if !isDevice(d.Device) {
					t.Fatalf("device %q", d.Device)
				}
			}
		}
		_ = parseBlkio(b, map[string]*IO{}, true)
		if p, err := parsePSI(b); err == nil && (p.SomeAvg10 < 0 || p.SomeAvg10 > 100) {
			t.Fatalf("avg10 %v", p.SomeAvg10)
		}
	})
}

// TestReadFile: empty, short, and longer than the scratch buffer (the
// io.stat of many devices), each whole; a missing file is ErrNotExist.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	scratch := make([]byte, 4096)
	for _, size := range []int{0, 17, 4095, 4096, 4097, 10_000} {
		want := strings.Repeat("8:0 rbytes=1\n", size/13+1)[:size]
		p := filepath.Join(dir, strconv.Itoa(size))
		if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(p, &scratch)
		if err != nil || string(got) != want {
			t.Errorf("%d bytes: read %d, %v", size, len(got), err)
		}
	}
	if _, err := readFile(filepath.Join(dir, "none"), &scratch); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
