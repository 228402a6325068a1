package procfs

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

// BenchmarkSampleAll reads every file the guest agent samples from the real
// /proc and /sys once per iteration, as the sampler does each interval.
func BenchmarkSampleAll(b *testing.B) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		b.Skip("no /proc/stat: not a Linux system with procfs mounted")
	}
	fsys := NewFS("/proc", "/sys")
	check := func(err error) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_, err := fsys.Stat()
		check(err)
		_, err = fsys.MemInfo()
		check(err)
		_, err = fsys.Uptime()
		check(err)
		_, err = fsys.LoadAvg()
		check(err)
		_, err = fsys.NetDev()
		check(err)
		_, err = fsys.Disks()
		check(err)
		mounts, err := fsys.Mounts()
		check(err)
		for _, m := range mounts {
			_, err = StatFS(m.MountPoint)
			check(err)
		}
		for _, r := range []string{PressureCPU, PressureMemory, PressureIO} {
			_, err = fsys.Pressure(r)
			check(err)
		}
		_, err = fsys.BootID()
		check(err)
		_, err = fsys.OnlineCPUs()
		check(err)
		_, err = fsys.ProcessCount()
		check(err)
	}
}

// BenchmarkParse measures the parsers alone on the captured 6.18 files.
func BenchmarkParse(b *testing.B) {
	read := func(name string) []byte {
		data, err := os.ReadFile("testdata/linux-6.18/proc/" + name)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	stat, meminfo, netdev, diskstats, mounts := read("stat"), read("meminfo"), read("net/dev"), read("diskstats"), read("mounts")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseStat(stat); err != nil {
			b.Fatal(err)
		}
		if _, err := parseMemInfo(meminfo); err != nil {
			b.Fatal(err)
		}
		if _, err := parseNetDev(netdev); err != nil {
			b.Fatal(err)
		}
		if _, err := parseDiskStats(diskstats); err != nil {
			b.Fatal(err)
		}
		if _, err := parseMounts(mounts); err != nil {
			b.Fatal(err)
		}
	}
}
