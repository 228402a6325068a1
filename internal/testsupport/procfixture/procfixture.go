// Package procfixture gives tests a live-looking guest: a copy of the
// captured Linux 6.18 /proc and /sys (internal/guestagent/procfs/testdata)
// whose CPU and memory figures move, for a real guest agent to read with
// --procfs and --sysfs. It is for tests only.
package procfixture

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Copy copies the captured /proc and /sys into a new directory of t and
// returns it (proc and sys lie in it).
func Copy(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "guestagent", "procfs", "testdata", "linux-6.18")
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return root
}

// Animate makes the fixture at root look alive: every 50 ms it
// rewrites proc/stat (the CPUs busy 15–55 %, in a wave of about 19 s) and
// proc/meminfo (a few hundred MiB more or less in use), each by writing a
// new file and renaming it over the old, as the agent opens them afresh
// for every read. It stops when the test ends.
//
// The steps are small beside an agent's shortest window (250 ms), so
// every window sees the counters move as a kernel's do: with steps as
// long as the window, the two clocks beat and some windows see no jiffy
// pass (read as 0 % busy), which under load skews a minute's mean.
func Animate(t testing.TB, root string) {
	t.Helper()
	statPath, memPath := filepath.Join(root, "proc/stat"), filepath.Join(root, "proc/meminfo")
	stat, err1 := os.ReadFile(statPath)
	mem, err2 := os.ReadFile(memPath)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	const step = 50 * time.Millisecond
	const jiffies = 5.0 // per CPU and step, at USER_HZ 100
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(step)
		defer tick.Stop()
		var busy, idle float64
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			s := float64(n) * step.Seconds() // seconds since the start
			b := 35 + 20*math.Sin(s/3)       // percent busy
			busy += b * jiffies / 100
			idle += (100 - b) * jiffies / 100
			replace(statPath, animateStat(stat, int64(busy), int64(idle)))
			replace(memPath, animateMeminfo(mem, int64(300_000*(1+math.Sin(s/5)))))
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

func replace(path string, body []byte) {
	tmp := path + ".new"
	if os.WriteFile(tmp, body, 0o644) == nil {
		os.Rename(tmp, path)
	}
}

// animateStat adds busy jiffies to user and idle ones to idle on every
// cpuN line, and their sums to the cpu line.
func animateStat(stat []byte, busy, idle int64) []byte {
	lines := strings.Split(string(stat), "\n")
	cpus := int64(0)
	for _, l := range lines {
		if strings.HasPrefix(l, "cpu") && !strings.HasPrefix(l, "cpu ") {
			cpus++
		}
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "cpu") {
			continue
		}
		f := strings.Fields(l)
		k := int64(1)
		if f[0] == "cpu" {
			k = cpus
		}
		f[1] = add(f[1], busy*k)
		f[4] = add(f[4], idle*k)
		sep := " "
		if f[0] == "cpu" {
			sep = "  "
		}
		lines[i] = f[0] + sep + strings.Join(f[1:], " ")
	}
	return []byte(strings.Join(lines, "\n"))
}

// animateMeminfo takes used KiB away from MemFree and MemAvailable.
func animateMeminfo(mem []byte, used int64) []byte {
	lines := strings.Split(string(mem), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "MemFree:") || strings.HasPrefix(l, "MemAvailable:") {
			f := strings.Fields(l)
			lines[i] = fmt.Sprintf("%-15s %8s kB", f[0], add(f[1], -used))
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

func add(s string, d int64) string {
	n, _ := strconv.ParseInt(s, 10, 64)
	return strconv.FormatInt(n+d, 10)
}
