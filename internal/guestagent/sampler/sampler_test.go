package sampler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
)

func TestCPUWindow(t *testing.T) {
	base := procfs.CPUTimes{User: 1000, Nice: 10, System: 500, Idle: 8000, IOWait: 100, IRQ: 5, SoftIRQ: 5, Steal: 7, Guest: 300, GuestNice: 0}
	add := func(d procfs.CPUTimes) procfs.CPUTimes {
		return procfs.CPUTimes{User: base.User + d.User, Nice: base.Nice + d.Nice, System: base.System + d.System,
			Idle: base.Idle + d.Idle, IOWait: base.IOWait + d.IOWait, IRQ: base.IRQ + d.IRQ, SoftIRQ: base.SoftIRQ + d.SoftIRQ,
			Steal: base.Steal + d.Steal, Guest: base.Guest + d.Guest, GuestNice: base.GuestNice + d.GuestNice}
	}
	wrapped := add(procfs.CPUTimes{User: 100, Idle: 100})
	wrapped.Steal = 2 // below base: the counter wrapped
	tests := []struct {
		name  string
		cur   procfs.CPUTimes
		usage float64
		br    wire.CPUBreakdown
	}{
		{"one of two cpus busy", add(procfs.CPUTimes{User: 100, Idle: 100}), 50, wire.CPUBreakdown{User: 50, Idle: 50}},
		{"iowait counts as idle", add(procfs.CPUTimes{System: 50, Idle: 100, IOWait: 50}), 25, wire.CPUBreakdown{System: 25, Idle: 50, IOWait: 25}},
		// Guest time is already inside user: 60 ticks of user of which 40 guest.
		{"guest not counted twice", add(procfs.CPUTimes{User: 60, Guest: 40, Idle: 140}), 30, wire.CPUBreakdown{User: 30, Idle: 70}},
		{"steal is busy and reported", add(procfs.CPUTimes{User: 20, Steal: 20, Idle: 160}), 20, wire.CPUBreakdown{User: 10, Steal: 10, Idle: 80}},
		{"thirds round to 2 places", add(procfs.CPUTimes{User: 1, Idle: 2}), 33.33, wire.CPUBreakdown{User: 33.33, Idle: 66.67}},
		{"no time passed", base, 0, wire.CPUBreakdown{}},
		{"idle went backwards (snapshot restore)", procfs.CPUTimes{User: 2000, Idle: 10}, 0, wire.CPUBreakdown{}},
		{"one counter wrapped", wrapped, 0, wire.CPUBreakdown{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			usage, br := cpuWindow(base, tt.cur)
			if usage != tt.usage || br != tt.br {
				t.Errorf("cpuWindow = %v %+v, want %v %+v", usage, br, tt.usage, tt.br)
			}
			if usage < 0 || usage > 100 {
				t.Errorf("usage %v outside [0, 100]", usage)
			}
		})
	}
}

// tree writes a small /proc and /sys under dir, with counters that tests
// move between samples.
type tree struct {
	dir                string
	user, idle, iowait uint64
	memTotal, memAvail uint64
	noMemAvailable     bool
	ethRx, ethTx, loRx uint64
	vdaRead, vdaWrite  uint64 // sectors
	uptime             float64
	bootID             string
}

func newTree(t *testing.T) *tree {
	tr := &tree{dir: t.TempDir(), user: 1000, idle: 9000, iowait: 0, memTotal: 2048000, memAvail: 1024000,
		ethRx: 5000, ethTx: 3000, loRx: 1, vdaRead: 100, vdaWrite: 200, uptime: 123.45,
		bootID: "5b8f3a5e-3a0e-4a55-9c53-1d0f2a7c8e01"}
	tr.write(t)
	return tr
}

func (tr *tree) file(t *testing.T, name, content string) {
	t.Helper()
	p := filepath.Join(tr.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

func (tr *tree) write(t *testing.T) {
	t.Helper()
	half := func(v uint64) string { return u(v / 2) }
	tr.file(t, "proc/stat", "cpu  "+u(tr.user)+" 0 0 "+u(tr.idle)+" "+u(tr.iowait)+" 0 0 0 0 0\n"+
		"cpu0 "+half(tr.user)+" 0 0 "+half(tr.idle)+" "+half(tr.iowait)+" 0 0 0 0 0\n"+
		"cpu1 "+half(tr.user)+" 0 0 "+half(tr.idle)+" "+half(tr.iowait)+" 0 0 0 0 0\n"+
		"intr 12345 0 0\nctxt 999\nbtime 1763800000\nprocesses 321\nprocs_running 2\nprocs_blocked 1\nsoftirq 0 0\n")
	mem := "MemTotal:       " + u(tr.memTotal) + " kB\nMemFree:          100000 kB\n"
	if !tr.noMemAvailable {
		mem += "MemAvailable:   " + u(tr.memAvail) + " kB\n"
	}
	mem += "Buffers:           20000 kB\nCached:           300000 kB\nSwapCached:            0 kB\nActive(anon):      1000 kB\n" +
		"SwapTotal:        0 kB\nSwapFree:         0 kB\nSReclaimable:      40000 kB\nHugePages_Total:       0\n"
	tr.file(t, "proc/meminfo", mem)
	tr.file(t, "proc/uptime", strconv.FormatFloat(tr.uptime, 'f', 2, 64)+" 200.00\n")
	tr.file(t, "proc/loadavg", "0.50 0.25 0.10 2/87 4242\n")
	tr.file(t, "proc/net/dev", "Inter-|   Receive                                                |  Transmit\n"+
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"+
		"    lo: "+u(tr.loRx)+" 1 0 0 0 0 0 0 "+u(tr.loRx)+" 1 0 0 0 0 0 0\n"+
		"  eth0: "+u(tr.ethRx)+" 50 1 2 0 0 0 0 "+u(tr.ethTx)+" 30 3 4 0 0 0 0\n")
	tr.file(t, "proc/diskstats", "   8       0 vda 10 0 "+u(tr.vdaRead)+" 5 20 0 "+u(tr.vdaWrite)+" 7 0 12 12\n"+
		"   8       1 vda1 10 0 "+u(tr.vdaRead)+" 5 20 0 "+u(tr.vdaWrite)+" 7 0 12 12\n"+
		"   1       0 ram0 0 0 0 0 0 0 0 0 0 0 0\n")
	tr.file(t, "sys/block/vda/size", "2048\n")
	tr.file(t, "sys/block/ram0/size", "0\n")
	tr.file(t, "proc/mounts", "/dev/vda / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\ntmpfs /run tmpfs rw 0 0\n")
	tr.file(t, "proc/pressure/cpu", "some avg10=1.50 avg60=0.00 avg300=0.00 total=1000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	tr.file(t, "proc/pressure/memory", "some avg10=2.00 avg60=0.00 avg300=0.00 total=2000000\nfull avg10=0.50 avg60=0.00 avg300=0.00 total=500000\n")
	tr.file(t, "proc/pressure/io", "some avg10=3.00 avg60=0.00 avg300=0.00 total=3000000\nfull avg10=1.00 avg60=0.00 avg300=0.00 total=1000000\n")
	tr.file(t, "proc/sys/kernel/random/boot_id", tr.bootID+"\n")
	tr.file(t, "proc/sys/kernel/hostname", "vm-test\n")
	tr.file(t, "proc/sys/kernel/osrelease", "6.1.0-test\n")
	tr.file(t, "sys/devices/system/cpu/online", "0-1\n")
	for _, pid := range []string{"1", "42", "4242"} {
		os.MkdirAll(filepath.Join(tr.dir, "proc", pid), 0o755)
	}
}

// clock is a fake time source advanced by tests.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newSampler(tr *tree, c *clock) *Sampler {
	return New(Options{FS: procfs.NewFS(filepath.Join(tr.dir, "proc"), filepath.Join(tr.dir, "sys")), Version: "test", Now: c.Now,
		StatFS: func(string) (procfs.FSUsage, error) {
			return procfs.FSUsage{TotalBytes: 1000, FreeBytes: 400, AvailableBytes: 350}, nil
		}})
}

func TestSampleWindow(t *testing.T) {
	tr := newTree(t)
	c := &clock{now: time.UnixMilli(1763840000000)}
	s := newSampler(tr, c)
	first := s.Sample().Metrics
	if first.CPUUsagePercent != 0 || first.IntervalMs != 0 || first.Network[0].RxBytesPerSec != 0 {
		t.Errorf("first sample has a window: %+v", first)
	}

	tr.user += 150 // 150 of 200 ticks busy
	tr.idle += 50
	tr.ethRx += 2000
	tr.ethTx += 500
	tr.vdaWrite += 8 // 4096 bytes
	tr.memAvail = 512000
	tr.uptime = 125.99
	tr.write(t)
	c.now = c.now.Add(2 * time.Second)
	m := s.Sample().Metrics

	if m.CPUUsagePercent != 75 || m.CPU.User != 75 || m.CPU.Idle != 25 {
		t.Errorf("cpu = %v %+v, want 75", m.CPUUsagePercent, m.CPU)
	}
	if m.MemoryTotalKB != 2048000 || m.MemoryAvailableKB != 512000 || m.MemoryUsedKB != 1536000 || m.MemoryUsagePercent != 75 {
		t.Errorf("memory = %d %d %d %v", m.MemoryTotalKB, m.MemoryAvailableKB, m.MemoryUsedKB, m.MemoryUsagePercent)
	}
	if m.IntervalMs != 2000 || m.TimestampMs != 1763840002000 || m.UptimeSeconds != 125 {
		t.Errorf("interval %d timestamp %d uptime %d", m.IntervalMs, m.TimestampMs, m.UptimeSeconds)
	}
	if len(m.Network) != 1 || m.Network[0].Interface != "eth0" {
		t.Fatalf("network = %+v, want eth0 only (loopback left out)", m.Network)
	}
	if n := m.Network[0]; n.RxBytesPerSec != 1000 || n.TxBytesPerSec != 250 || n.RxBytes != 7000 || n.RxErrors != 1 || n.TxDropped != 4 {
		t.Errorf("eth0 = %+v", n)
	}
	if len(m.Disks) != 1 || m.Disks[0].Device != "vda" {
		t.Fatalf("disks = %+v, want vda only", m.Disks)
	}
	if d := m.Disks[0]; d.WriteBytesPerSec != 2048 || d.WriteBytes != 208*512 || d.ReadBytes != 100*512 || d.Writes != 20 {
		t.Errorf("vda = %+v", d)
	}
	if len(m.Filesystems) != 1 || m.Filesystems[0] != (wire.Filesystem{MountPoint: "/", FSType: "ext4", TotalBytes: 1000, UsedBytes: 600, AvailableBytes: 350}) {
		t.Errorf("filesystems = %+v", m.Filesystems)
	}
	if m.Pressure == nil || *m.Pressure != (wire.Pressure{CPUSomeAvg10: 1.5, MemorySomeAvg10: 2, MemoryFullAvg10: 0.5, IOSomeAvg10: 3, IOFullAvg10: 1}) {
		t.Errorf("pressure = %+v", m.Pressure)
	}
	if *m.Processes != (wire.Processes{Running: 2, Blocked: 1, Total: 3}) || m.CPUCount != 2 || *m.Load != (wire.Load{Load1: 0.5, Load5: 0.25, Load15: 0.1}) {
		t.Errorf("processes %+v cpus %d load %+v", m.Processes, m.CPUCount, m.Load)
	}
	if m.Hostname != "vm-test" || m.Kernel != "6.1.0-test" || m.BootID != tr.bootID || m.AgentVersion != "test" || len(m.Errors) != 0 {
		t.Errorf("identity %q %q %q %q errors %v", m.Hostname, m.Kernel, m.BootID, m.AgentVersion, m.Errors)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("sample fails validation: %v", err)
	}
}

func TestCountersBackwards(t *testing.T) {
	tr := newTree(t)
	c := &clock{now: time.UnixMilli(1763840000000)}
	s := newSampler(tr, c)
	s.Sample()
	tr.user, tr.idle, tr.ethRx, tr.vdaRead = 10, 10, 1, 1 // a restored snapshot: everything smaller
	tr.write(t)
	c.now = c.now.Add(time.Second)
	m := s.Sample().Metrics
	if m.CPUUsagePercent != 0 || m.Network[0].RxBytesPerSec != 0 || m.Disks[0].ReadBytesPerSec != 0 {
		t.Errorf("backwards counters gave cpu %v rx/s %v read/s %v, want 0", m.CPUUsagePercent, m.Network[0].RxBytesPerSec, m.Disks[0].ReadBytesPerSec)
	}
}

func TestBootIDChangeDropsWindow(t *testing.T) {
	tr := newTree(t)
	c := &clock{now: time.UnixMilli(1763840000000)}
	s := newSampler(tr, c)
	s.Sample()
	tr.user += 500 // would read as busy, but the kernel is a new one
	tr.ethRx += 10000
	tr.bootID = "00000000-0000-4000-8000-000000000001"
	tr.write(t)
	c.now = c.now.Add(time.Second)
	m := s.Sample().Metrics
	if m.CPUUsagePercent != 0 || m.IntervalMs != 0 || m.Network[0].RxBytesPerSec != 0 || m.BootID != tr.bootID {
		t.Errorf("after a new boot_id: cpu %v interval %d rx/s %v boot %s", m.CPUUsagePercent, m.IntervalMs, m.Network[0].RxBytesPerSec, m.BootID)
	}
}

func TestClassicEstimateWithoutMemAvailable(t *testing.T) {
	tr := newTree(t)
	tr.noMemAvailable = true
	tr.write(t)
	m := newSampler(tr, &clock{now: time.Now()}).Sample().Metrics
	// free + buffers + cached + SReclaimable = 100000 + 20000 + 300000 + 40000
	if m.MemoryAvailableKB != 460000 || m.MemoryUsedKB != 2048000-460000 {
		t.Errorf("available %d used %d, want the classic estimate 460000", m.MemoryAvailableKB, m.MemoryUsedKB)
	}
}

func TestUnreadableSourceLeavesTheRest(t *testing.T) {
	tr := newTree(t)
	tr.file(t, "proc/meminfo", "MemTotal:  20")             // truncated mid-line
	os.RemoveAll(filepath.Join(tr.dir, "proc", "pressure")) // a kernel without PSI
	snap := newSampler(tr, &clock{now: time.Now()}).Sample()
	m := snap.Metrics
	if len(m.Errors) != 1 || !strings.HasPrefix(m.Errors[0], "meminfo: ") {
		t.Fatalf("errors = %q, want one meminfo error (no PSI is not an error)", m.Errors)
	}
	if m.MemoryTotalKB != 0 || m.Memory != nil || m.Pressure != nil {
		t.Errorf("figures from unreadable sources were invented: total %d detail %+v pressure %+v", m.MemoryTotalKB, m.Memory, m.Pressure)
	}
	if m.CPU == nil || len(m.Network) != 1 || len(m.Disks) != 1 || m.Load == nil {
		t.Errorf("other sources blanked: %+v", m)
	}
	var back map[string]any
	if err := json.Unmarshal(snap.JSON, &back); err != nil {
		t.Fatalf("JSON invalid: %v", err)
	}
}

func TestHungStatfsSkipsMount(t *testing.T) {
	tr := newTree(t)
	release := make(chan struct{})
	s := New(Options{FS: procfs.NewFS(filepath.Join(tr.dir, "proc"), filepath.Join(tr.dir, "sys")), StatFSTimeout: 50 * time.Millisecond,
		StatFS: func(string) (procfs.FSUsage, error) { <-release; return procfs.FSUsage{TotalBytes: 1}, nil }})
	start := time.Now()
	if m := s.Sample().Metrics; len(m.Filesystems) != 0 {
		t.Errorf("hung mount reported: %+v", m.Filesystems)
	}
	if m := s.Sample().Metrics; len(m.Filesystems) != 0 {
		t.Errorf("hung mount reported on the second sample: %+v", m.Filesystems)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("two samples took %v with a hung statfs; the second should not wait again", el)
	}
	close(release)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if m := s.Sample().Metrics; len(m.Filesystems) == 1 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("mount not reported again after its statfs returned")
}
