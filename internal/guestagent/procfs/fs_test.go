package procfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixture returns an FS over testdata/<tree>.
func fixture(tree string) FS {
	dir := filepath.Join("testdata", tree)
	return NewFS(filepath.Join(dir, "proc"), filepath.Join(dir, "sys"))
}

func mustEqual[T any](t *testing.T, what string, got T, err error, want T) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func TestNewFSDefaults(t *testing.T) {
	fsys := NewFS("", "")
	if fsys.ProcRoot() != "/proc" || fsys.SysRoot() != "/sys" {
		t.Errorf("NewFS(\"\", \"\") roots = %q, %q", fsys.ProcRoot(), fsys.SysRoot())
	}
}

// TestLinux618 checks every reader against the tree captured on Linux 6.18.
func TestLinux618(t *testing.T) {
	fsys := fixture("linux-6.18")

	st, err := fsys.Stat()
	mustEqual(t, "Stat", st, err, Stat{
		Total: CPUTimes{User: 22387, System: 7638, Idle: 89287, IOWait: 245, SoftIRQ: 89, Steal: 19},
		PerCPU: []CPUStat{
			{ID: 0, CPUTimes: CPUTimes{User: 10923, System: 3714, Idle: 45124, IOWait: 33, SoftIRQ: 11, Steal: 9}},
			{ID: 1, CPUTimes: CPUTimes{User: 11463, System: 3923, Idle: 44163, IOWait: 212, SoftIRQ: 77, Steal: 10}},
		},
		BootTime: 1795379922, ContextSwitches: 2011819, Interrupts: 825763,
		Forks: 20687, ProcsRunning: 1, ProcsBlocked: 0,
	})

	mi, err := fsys.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	fields := mi.Fields
	mi.Fields = nil
	mustEqual(t, "MemInfo", mi, nil, MemInfo{
		TotalKB: 24684092, FreeKB: 23817440, AvailableKB: 24323960, BuffersKB: 9988,
		CachedKB: 665596, SReclaimableKB: 94916, HasAvailable: true,
	})
	if got := mi.Available(); got != 24323960 {
		t.Errorf("Available() = %d, want 24323960", got)
	}
	if len(fields) != 54 || fields[0] != (MemField{"MemTotal", 24684092, true}) ||
		fields[53] != (MemField{"DirectMap1G", 25165824, true}) {
		t.Errorf("Fields: %d lines, first %+v, last %+v", len(fields), fields[0], fields[len(fields)-1])
	}
	for _, f := range fields {
		if f.Name == "HugePages_Total" && f.KB {
			t.Errorf("HugePages_Total has KB set")
		}
		if f.Name == "VmallocTotal" && f.Value != 34359738367 {
			t.Errorf("VmallocTotal = %d", f.Value)
		}
	}

	up, err := fsys.Uptime()
	mustEqual(t, "Uptime", up, err, 600.66)
	la, err := fsys.LoadAvg()
	mustEqual(t, "LoadAvg", la, err, LoadAvg{Load1: 1.94, Load5: 1.31, Load15: 0.58, Runnable: 1, Threads: 90})

	nd, err := fsys.NetDev()
	mustEqual(t, "NetDev", nd, err, []NetDev{
		{Name: "lo", RxBytes: 12953, RxPackets: 193, TxBytes: 12953, TxPackets: 193},
		{Name: "ifb0"},
		{Name: "ifb1"},
		{Name: "eth0", RxBytes: 405169752, RxPackets: 10277, TxBytes: 456141, TxPackets: 5719},
	})

	disks, err := fsys.Disks()
	mustEqual(t, "Disks", disks, err, []DiskStat{{
		Major: 254, Minor: 0, Name: "vda",
		ReadsCompleted: 47503, ReadsMerged: 10198, SectorsRead: 2349498, ReadTimeMs: 17779,
		WritesCompleted: 19779, WritesMerged: 22155, SectorsWritten: 3435512, WriteTimeMs: 9796,
		IOInProgress: 0, IOTimeMs: 6260, WeightedIOTimeMs: 28638,
	}})
	if disks[0].ReadBytes() != 2349498*512 || disks[0].WriteBytes() != 3435512*512 {
		t.Errorf("ReadBytes, WriteBytes = %d, %d", disks[0].ReadBytes(), disks[0].WriteBytes())
	}

	mounts, err := fsys.Mounts()
	mustEqual(t, "Mounts", mounts, err, []Mount{{Device: "/dev/vda", MountPoint: "/", FSType: "ext4"}})

	cpu, err := fsys.Pressure(PressureCPU)
	mustEqual(t, "Pressure(cpu)", cpu, err, Pressure{
		Some:    PSILine{Avg10: 4.48, Avg60: 29.76, Avg300: 18.73, TotalUs: 87686302},
		HasSome: true, HasFull: true,
	})
	io, err := fsys.Pressure(PressureIO)
	mustEqual(t, "Pressure(io)", io, err, Pressure{
		Some:    PSILine{Avg60: 0.07, Avg300: 0.22, TotalUs: 2873745},
		Full:    PSILine{Avg60: 0.01, Avg300: 0.08, TotalUs: 1658265},
		HasSome: true, HasFull: true,
	})
	mem, err := fsys.Pressure(PressureMemory)
	mustEqual(t, "Pressure(memory)", mem, err, Pressure{HasSome: true, HasFull: true})
	if _, err := fsys.Pressure(PressureIRQ); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Pressure(irq) error = %v, want ErrNotExist", err)
	}

	id, err := fsys.BootID()
	mustEqual(t, "BootID", id, err, "a3da3dba-3799-4ff6-8303-38598b83497f")
	host, err := fsys.Hostname()
	mustEqual(t, "Hostname", host, err, "vm")
	rel, err := fsys.OSRelease()
	mustEqual(t, "OSRelease", rel, err, "6.18.44-fc-v657")
	n, err := fsys.OnlineCPUs()
	mustEqual(t, "OnlineCPUs", n, err, 2)
	procs, err := fsys.ProcessCount()
	mustEqual(t, "ProcessCount", procs, err, 74)
	cmd, err := fsys.Cmdline()
	if err != nil || !strings.HasPrefix(cmd, "mitigations=auto") || strings.HasSuffix(cmd, "\n") {
		t.Errorf("Cmdline() = %q, %v", cmd, err)
	}
}

func TestOldKernel26(t *testing.T) {
	fsys := fixture("written-old-2.6")

	st, err := fsys.Stat()
	if err != nil {
		t.Fatal(err)
	}
	want := CPUTimes{User: 1052349, Nice: 2345, System: 334567, Idle: 98765432, IOWait: 45678, IRQ: 1234, SoftIRQ: 5678, Steal: 910}
	if st.Total != want || len(st.PerCPU) != 2 || st.PerCPU[1].ID != 1 {
		t.Errorf("Stat: total %+v, %d cpus", st.Total, len(st.PerCPU))
	}

	mi, err := fsys.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	if mi.HasAvailable || mi.SReclaimableKB != 0 {
		t.Errorf("HasAvailable = %v, SReclaimableKB = %d", mi.HasAvailable, mi.SReclaimableKB)
	}
	if got, want := mi.Available(), uint64(143208+201532+1364856); got != want {
		t.Errorf("Available() = %d, want %d", got, want)
	}

	for _, r := range []string{PressureCPU, PressureMemory, PressureIO} {
		if _, err := fsys.Pressure(r); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Pressure(%s) error = %v, want ErrNotExist", r, err)
		}
	}
	// No sys/devices/system/cpu/online: counted from /proc/stat.
	n, err := fsys.OnlineCPUs()
	mustEqual(t, "OnlineCPUs", n, err, 2)

	disks, err := fsys.Disks()
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 2 || disks[0].Name != "sda" || disks[1].Name != "hdc" || disks[0].WeightedIOTimeMs != 1886643 {
		t.Errorf("Disks = %+v", disks)
	}

	nd, err := fsys.NetDev()
	mustEqual(t, "NetDev", nd, err, []NetDev{
		{Name: "lo", RxBytes: 884152, RxPackets: 6512, TxBytes: 884152, TxPackets: 6512},
		{Name: "eth0", RxBytes: 4294967295123, RxPackets: 98765432, RxErrors: 3, RxDropped: 7,
			TxBytes: 123456789012, TxPackets: 87654321, TxDropped: 2},
	})

	mounts, err := fsys.Mounts()
	mustEqual(t, "Mounts", mounts, err, []Mount{
		{Device: "/dev/root", MountPoint: "/", FSType: "ext3"},
		{Device: "/dev/sda1", MountPoint: "/boot", FSType: "ext3"},
	})

	up, err := fsys.Uptime()
	mustEqual(t, "Uptime", up, err, 3024000.12)
	procs, err := fsys.ProcessCount()
	mustEqual(t, "ProcessCount", procs, err, 4)
}

func TestOldKernel310(t *testing.T) {
	fsys := fixture("written-old-3.10")
	mi, err := fsys.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	if mi.HasAvailable {
		t.Error("HasAvailable on a 3.10 meminfo")
	}
	if got, want := mi.Available(), uint64(118704+51840+502896+66712); got != want {
		t.Errorf("Available() = %d, want %d", got, want)
	}
	disks, err := fsys.Disks()
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 2 || disks[0].Name != "sda" || disks[1].Name != "dm-0" {
		t.Errorf("Disks = %+v", disks)
	}
	if _, err := fsys.Pressure(PressureMemory); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Pressure(memory) error = %v, want ErrNotExist", err)
	}
}

func Test64CPU(t *testing.T) {
	fsys := fixture("written-64cpu")
	st, err := fsys.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.PerCPU) != 64 || st.PerCPU[63].ID != 63 || st.PerCPU[63].User != 1063 || st.Total.Idle != 64*90000 {
		t.Errorf("Stat: %d cpus, last %+v, total %+v", len(st.PerCPU), st.PerCPU[len(st.PerCPU)-1], st.Total)
	}
	if st.Interrupts != 7777777 || st.ProcsRunning != 64 {
		t.Errorf("Interrupts %d, ProcsRunning %d", st.Interrupts, st.ProcsRunning)
	}
	n, err := fsys.OnlineCPUs()
	mustEqual(t, "OnlineCPUs", n, err, 64)

	disks, err := fsys.Disks()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range disks {
		names = append(names, d.Name)
	}
	mustEqual(t, "Disks", names, nil, []string{"nvme0n1", "nvme1n1", "md0", "sr0"})
	if disks[0].IOInProgress != 1 || disks[0].WeightedIOTimeMs != 1400 {
		t.Errorf("nvme0n1 = %+v", disks[0])
	}

	cpu, err := fsys.Pressure(PressureCPU)
	mustEqual(t, "Pressure(cpu)", cpu, err, Pressure{
		Some: PSILine{Avg10: 12.5, Avg60: 8.25, Avg300: 3.1, TotalUs: 987654321}, HasSome: true,
	})
	mi, err := fsys.MemInfo()
	if err != nil {
		t.Fatal(err)
	}
	if mi.Available() != 250000000 || len(mi.Fields) != 11 {
		t.Errorf("Available() = %d, %d fields", mi.Available(), len(mi.Fields))
	}
}

func TestOneCPUWithoutSysfs(t *testing.T) {
	fsys := fixture("written-1cpu-nosys")
	n, err := fsys.OnlineCPUs()
	mustEqual(t, "OnlineCPUs", n, err, 1)
	disks, err := fsys.Disks()
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 2 || disks[0].Name != "vda" || disks[1].Name != "vdb" || disks[0].SectorsRead != 24000 {
		t.Errorf("Disks = %+v", disks)
	}
	irq, err := fsys.Pressure(PressureIRQ)
	mustEqual(t, "Pressure(irq)", irq, err, Pressure{
		Full: PSILine{Avg10: 0.1, Avg60: 0.05, Avg300: 0.01, TotalUs: 4321}, HasFull: true,
	})
	// Files the tree lacks report ErrNotExist.
	if _, err := fsys.MemInfo(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("MemInfo error = %v, want ErrNotExist", err)
	}
}

// TestTruncated checks that files cut short fail with the file and line.
func TestTruncated(t *testing.T) {
	fsys := fixture("written-truncated")
	for _, tc := range []struct {
		name string
		read func() error
		want string
	}{
		{"stat", func() error { _, err := fsys.Stat(); return err }, "stat: line 3: truncated"},
		{"meminfo", func() error { _, err := fsys.MemInfo(); return err }, "meminfo: line 3: truncated"},
		{"loadavg", func() error { _, err := fsys.LoadAvg(); return err }, "loadavg: line 1: truncated"},
		{"diskstats", func() error { _, err := fsys.Disks(); return err }, "diskstats: line 1: vda: 13 columns"},
	} {
		err := tc.read()
		var pe *os.PathError
		var perr *ParseError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &pe) || pe.Op != "parse" || !errors.As(err, &perr) {
			t.Errorf("%s: error %v, want a parse error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestMountsEscaped(t *testing.T) {
	mounts, err := fixture("written-mounts-escaped").Mounts()
	mustEqual(t, "Mounts", mounts, err, []Mount{
		{Device: "/dev/vda", MountPoint: "/", FSType: "ext4"},
		{Device: "/dev/vdb", MountPoint: "/mnt/my data", FSType: "ext4"},
		{Device: "/dev/vdc", MountPoint: "/mnt/tab\tand\nnewline", FSType: "xfs"},
		{Device: `//server/share\dir`, MountPoint: `/mnt/back\slash`, FSType: "cifs"},
		{Device: "/dev/vdd", MountPoint: "/srv/hash#tag", FSType: "btrfs"},
		{Device: "/dev/vdg", MountPoint: "/var/lib/data", FSType: "xfs"},
		{Device: "overlay", MountPoint: "/var/lib/docker/overlay2/abc/merged", FSType: "overlay"},
		{Device: "/dev/vdh", MountPoint: "/mnt/readonly", FSType: "squashfs", ReadOnly: true},
	})
}

func TestReadFileSizes(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 2047, 2048, 2049, 8192, 8193, 100000, maxFileBytes, maxFileBytes + 1, 3 * maxFileBytes} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(i % 251)
		}
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(p)
		if size > maxFileBytes {
			if !errors.Is(err, errTooLarge) {
				t.Errorf("readFile(%d bytes) error = %v, want errTooLarge", size, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("readFile(%d bytes) = %d bytes, %v", size, len(got), err)
		}
	}
}

func TestStatFS(t *testing.T) {
	u, err := StatFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if u.TotalBytes == 0 || u.FreeBytes > u.TotalBytes || u.AvailableBytes > u.FreeBytes || u.FilesFree > u.Files {
		t.Errorf("StatFS = %+v", u)
	}
	if _, err := StatFS(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("StatFS(missing) error = %v", err)
	}
}

// TestRealSystem runs every reader on the machine's own /proc and /sys.
func TestRealSystem(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat: not a Linux system with procfs mounted")
	}
	fsys := NewFS("/proc", "/sys")
	for name, read := range map[string]func() error{
		"Stat":         func() error { _, err := fsys.Stat(); return err },
		"MemInfo":      func() error { _, err := fsys.MemInfo(); return err },
		"Uptime":       func() error { _, err := fsys.Uptime(); return err },
		"LoadAvg":      func() error { _, err := fsys.LoadAvg(); return err },
		"NetDev":       func() error { _, err := fsys.NetDev(); return err },
		"Disks":        func() error { _, err := fsys.Disks(); return err },
		"Mounts":       func() error { _, err := fsys.Mounts(); return err },
		"BootID":       func() error { _, err := fsys.BootID(); return err },
		"Hostname":     func() error { _, err := fsys.Hostname(); return err },
		"OSRelease":    func() error { _, err := fsys.OSRelease(); return err },
		"OnlineCPUs":   func() error { _, err := fsys.OnlineCPUs(); return err },
		"ProcessCount": func() error { _, err := fsys.ProcessCount(); return err },
		"Cmdline":      func() error { _, err := fsys.Cmdline(); return err },
		"Pressure": func() error {
			_, err := fsys.Pressure(PressureMemory)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // kernel without PSI
			}
			return err
		},
	} {
		if err := read(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
