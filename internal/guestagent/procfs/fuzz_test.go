package procfs

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/vmclockpage"
)

// The fuzz tests check that no input makes a parser panic and that whatever
// a parser accepts is self-consistent: formatting the result the way the
// kernel does and parsing it again gives the same value. Seeds come from
// every fixture tree and from testdata/fuzz/<FuzzName>.

// addFixtureSeeds adds the file rel (like "proc/stat") of every fixture tree.
func addFixtureSeeds(f *testing.F, rel string) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*", filepath.FromSlash(rel)))
	if err != nil {
		f.Fatal(err)
	}
	if len(paths) == 0 {
		f.Fatalf("no fixture has %s", rel)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// roundTrip parses again the kernel-style rendering of a parsed value.
func roundTrip[T any](t *testing.T, parse func([]byte) (T, error), got T, text string) {
	t.Helper()
	again, err := parse([]byte(text))
	if err != nil {
		t.Fatalf("reparse of %q: %v", text, err)
	}
	if !reflect.DeepEqual(again, got) {
		t.Fatalf("round trip differs:\n first %+v\nsecond %+v", got, again)
	}
}

func formatCPUTimes(b *strings.Builder, key string, c CPUTimes) {
	fmt.Fprintf(b, "%s %d %d %d %d %d %d %d %d %d %d\n", key,
		c.User, c.Nice, c.System, c.Idle, c.IOWait, c.IRQ, c.SoftIRQ, c.Steal, c.Guest, c.GuestNice)
}

func FuzzStat(f *testing.F) {
	addFixtureSeeds(f, "proc/stat")
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseStat(data)
		if err != nil {
			return
		}
		if len(st.PerCPU) > bytes.Count(data, []byte("\n")) {
			t.Fatalf("%d cpus from %d lines", len(st.PerCPU), bytes.Count(data, []byte("\n")))
		}
		var b strings.Builder
		formatCPUTimes(&b, "cpu", st.Total)
		for _, c := range st.PerCPU {
			if c.ID < 0 || c.ID > maxCPUID {
				t.Fatalf("cpu id %d", c.ID)
			}
			formatCPUTimes(&b, "cpu"+strconv.Itoa(c.ID), c.CPUTimes)
		}
		fmt.Fprintf(&b, "intr %d\nctxt %d\nbtime %d\nprocesses %d\nprocs_running %d\nprocs_blocked %d\n",
			st.Interrupts, st.ContextSwitches, st.BootTime, st.Forks, st.ProcsRunning, st.ProcsBlocked)
		roundTrip(t, parseStat, st, b.String())
	})
}

func FuzzMemInfo(f *testing.F) {
	addFixtureSeeds(f, "proc/meminfo")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMemInfo(data)
		if err != nil {
			return
		}
		if m.Available() > m.TotalKB {
			t.Fatalf("Available() %d > TotalKB %d", m.Available(), m.TotalKB)
		}
		if len(m.Fields) != bytes.Count(data, []byte("\n")) {
			t.Fatalf("%d fields from %d lines", len(m.Fields), bytes.Count(data, []byte("\n")))
		}
		var b strings.Builder
		hasAvail := false
		for _, fl := range m.Fields {
			if fl.Name == "" || strings.ContainsAny(fl.Name, " \t\n:") {
				t.Fatalf("bad name %q", fl.Name)
			}
			hasAvail = hasAvail || fl.Name == "MemAvailable"
			unit := ""
			if fl.KB {
				unit = " kB"
			}
			fmt.Fprintf(&b, "%s: %d%s\n", fl.Name, fl.Value, unit)
		}
		if hasAvail != m.HasAvailable {
			t.Fatalf("HasAvailable = %v with fields %v", m.HasAvailable, m.Fields)
		}
		roundTrip(t, parseMemInfo, m, b.String())
	})
}

func formatDecimal(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func checkDecimal(t *testing.T, what string, v float64) {
	t.Helper()
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		t.Fatalf("%s = %v", what, v)
	}
}

func FuzzUptime(f *testing.F) {
	addFixtureSeeds(f, "proc/uptime")
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseUptime(data)
		if err != nil {
			return
		}
		checkDecimal(t, "uptime", v)
		roundTrip(t, parseUptime, v, formatDecimal(v)+" 0\n")
	})
}

func FuzzLoadAvg(f *testing.F) {
	addFixtureSeeds(f, "proc/loadavg")
	f.Fuzz(func(t *testing.T, data []byte) {
		la, err := parseLoadAvg(data)
		if err != nil {
			return
		}
		for _, v := range []float64{la.Load1, la.Load5, la.Load15} {
			checkDecimal(t, "load", v)
		}
		text := fmt.Sprintf("%s %s %s %d/%d 1\n", formatDecimal(la.Load1), formatDecimal(la.Load5),
			formatDecimal(la.Load15), la.Runnable, la.Threads)
		roundTrip(t, parseLoadAvg, la, text)
	})
}

func FuzzNetDev(f *testing.F) {
	addFixtureSeeds(f, "proc/net/dev")
	f.Fuzz(func(t *testing.T, data []byte) {
		devs, err := parseNetDev(data)
		if err != nil {
			return
		}
		var b strings.Builder
		b.WriteString(netDevHeader)
		for _, d := range devs {
			if d.Name == "" || strings.ContainsAny(d.Name, ": \t\n") {
				t.Fatalf("bad name %q", d.Name)
			}
			fmt.Fprintf(&b, "%s: %d %d %d %d 0 0 0 0 %d %d %d %d 0 0 0 0\n", d.Name,
				d.RxBytes, d.RxPackets, d.RxErrors, d.RxDropped, d.TxBytes, d.TxPackets, d.TxErrors, d.TxDropped)
		}
		roundTrip(t, parseNetDev, devs, b.String())
	})
}

func FuzzDiskStats(f *testing.F) {
	addFixtureSeeds(f, "proc/diskstats")
	f.Fuzz(func(t *testing.T, data []byte) {
		disks, err := parseDiskStats(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, d := range disks {
			if d.Name == "" || strings.ContainsAny(d.Name, " \t\n") {
				t.Fatalf("bad name %q", d.Name)
			}
			if d.ReadBytes() < d.SectorsRead || d.WriteBytes() < d.SectorsWritten {
				t.Fatalf("bytes below sectors: %+v", d)
			}
			fmt.Fprintf(&b, "%d %d %s %d %d %d %d %d %d %d %d %d %d %d\n", d.Major, d.Minor, d.Name,
				d.ReadsCompleted, d.ReadsMerged, d.SectorsRead, d.ReadTimeMs,
				d.WritesCompleted, d.WritesMerged, d.SectorsWritten, d.WriteTimeMs,
				d.IOInProgress, d.IOTimeMs, d.WeightedIOTimeMs)
		}
		roundTrip(t, parseDiskStats, disks, b.String())
		whole := wholeDisksByName(disks)
		if len(whole) > len(disks) {
			t.Fatalf("%d whole disks out of %d", len(whole), len(disks))
		}
	})
}

// escapeMount escapes like the kernel's mangle(): blanks, newline, backslash.
func escapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzMounts(f *testing.F) {
	addFixtureSeeds(f, "proc/mounts")
	f.Fuzz(func(t *testing.T, data []byte) {
		all, err := parseMounts(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, m := range all {
			opts := "rw"
			if m.ReadOnly {
				opts = "ro"
			}
			fmt.Fprintf(&b, "%s %s %s %s 0 0\n", escapeMount(m.Device), escapeMount(m.MountPoint), escapeMount(m.FSType), opts)
		}
		roundTrip(t, parseMounts, all, b.String())
		seen := map[string]bool{}
		for _, m := range realMounts(all) {
			if seen[m.MountPoint] || pseudoFS(m.FSType) {
				t.Fatalf("realMounts kept %+v", m)
			}
			seen[m.MountPoint] = true
		}
	})
}

func formatPSI(kind string, l PSILine) string {
	return fmt.Sprintf("%s avg10=%s avg60=%s avg300=%s total=%d\n", kind,
		formatDecimal(l.Avg10), formatDecimal(l.Avg60), formatDecimal(l.Avg300), l.TotalUs)
}

func FuzzPressure(f *testing.F) {
	addFixtureSeeds(f, "proc/pressure/*")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePressure(data)
		if err != nil {
			return
		}
		var text string
		for _, l := range []struct {
			kind string
			has  bool
			v    PSILine
		}{{"some", p.HasSome, p.Some}, {"full", p.HasFull, p.Full}} {
			if !l.has {
				if l.v != (PSILine{}) {
					t.Fatalf("%s values without a %s line: %+v", l.kind, l.kind, l.v)
				}
				continue
			}
			for _, v := range []float64{l.v.Avg10, l.v.Avg60, l.v.Avg300} {
				checkDecimal(t, l.kind+" avg", v)
			}
			text += formatPSI(l.kind, l.v)
		}
		roundTrip(t, parsePressure, p, text)
	})
}

func FuzzCPUList(f *testing.F) {
	addFixtureSeeds(f, "sys/devices/system/cpu/online")
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := parseCPUList(data)
		if err != nil {
			return
		}
		if n < 1 || n > maxCPUID+1 {
			t.Fatalf("%d cpus", n)
		}
		if strings.Trim(string(data), "0123456789,-\n") != "" {
			t.Fatalf("accepted %q", data)
		}
		if n > 1<<12 {
			return // too many ids to cross-check quickly
		}
		// Cross-check with a naive expansion of the list.
		ids := map[int]bool{}
		for _, item := range strings.Split(strings.TrimSuffix(string(data), "\n"), ",") {
			lo, hi, _ := strings.Cut(item, "-")
			if hi == "" {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			z, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				t.Fatalf("accepted %q", data)
			}
			for i := a; i <= z; i++ {
				ids[i] = true
			}
		}
		if len(ids) != n {
			t.Fatalf("%q: %d cpus, naive count %d", data, n, len(ids))
		}
	})
}

func FuzzVMStat(f *testing.F) {
	addFixtureSeeds(f, "proc/vmstat")
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseOOMKill(data)
		if err != nil || !v.found {
			return
		}
		roundTrip(t, parseOOMKill, v, "oom_kill "+strconv.FormatUint(v.n, 10)+"\n")
	})
}

func FuzzVMClock(f *testing.F) {
	f.Add(vmclockpage.Page{Seq: 2, DisruptionMarker: 1, Generation: 1, HasGeneration: true}.Bytes())
	f.Add(vmclockpage.Page{}.Bytes()[:112])
	f.Add([]byte("VCLK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseVMClock(data)
		if err != nil {
			return
		}
		if c.HasGeneration && len(data) < 112 {
			t.Fatalf("a generation from %d bytes", len(data))
		}
		// Written again as the device would, it reads the same.
		page := vmclockpage.Page{DisruptionMarker: c.DisruptionMarker, Generation: c.Generation, HasGeneration: c.HasGeneration}.Bytes()
		if !c.HasGeneration {
			page = page[:104]
		}
		roundTrip(t, parseVMClock, c, string(page))
	})
}
