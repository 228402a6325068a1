// Package cgtest makes real cgroup v1 groups for tests, as Firecracker's
// jailer does with --cgroup-version 1: one directory per controller with
// the same name, its limits written, and processes moved in. It skips the
// test, naming why, where the machine has no v1 hierarchy or the test is
// not root.
package cgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Root is where the v1 hierarchies are mounted.
const Root = "/sys/fs/cgroup"

// Group is a cgroup made in several v1 hierarchies.
type Group struct {
	Name string            // its path below each hierarchy's root, without the leading /
	dirs map[string]string // controller → directory
}

// Missing says why groups of controllers cannot be made here (no v1
// hierarchy of one of them, or not root), or "" when they can: for a test
// that runs without them and skips only what needs them.
func Missing(controllers ...string) string {
	for _, c := range controllers {
		if _, err := os.Stat(filepath.Join(Root, c, "cgroup.procs")); err != nil {
			return "no cgroup v1 " + c + " hierarchy at " + Root + " (the test needs the v1 layout)"
		}
	}
	if os.Geteuid() != 0 {
		return "making cgroups needs root"
	}
	return ""
}

// New makes a group in each controller of files (controller → file →
// value, written in no particular order), removed at the test's end.
func New(t *testing.T, files map[string]map[string]string) *Group {
	t.Helper()
	g := &Group{Name: "fcmon-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 10), dirs: map[string]string{}}
	controllers := make([]string, 0, len(files))
	for c := range files {
		controllers = append(controllers, c)
	}
	if why := Missing(controllers...); why != "" {
		t.Skip(why)
	}
	t.Cleanup(func() {
		for _, d := range g.dirs {
			for i := 0; i < 50 && os.Remove(d) != nil; i++ {
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
	for c, fs := range files {
		d := filepath.Join(Root, c, g.Name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Skipf("making a cgroup: %v (needs root)", err)
		}
		g.dirs[c] = d
		for name, v := range fs {
			if err := os.WriteFile(filepath.Join(d, name), []byte(v), 0o644); err != nil {
				t.Fatalf("%s/%s: %v", c, name, err)
			}
		}
	}
	return g
}

// Add moves pid into the group in every hierarchy.
func (g *Group) Add(t *testing.T, pid int) {
	t.Helper()
	for c, d := range g.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			t.Fatalf("moving %d into %s: %v", pid, c, err)
		}
	}
}

// Busy starts a process that spins on a core until the test ends.
func Busy(t *testing.T) int {
	t.Helper()
	return spin(t, "")
}

// spin starts sh running script, then execing a loop that spins on a
// core, and kills it when the test ends.
func spin(t *testing.T, script string) int {
	t.Helper()
	cmd := exec.Command("sh", "-c", script+"exec sh -c 'while :; do :; done'")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// Busy starts a process that spins on a core inside the group until the
// test ends: it moves itself in before it execs the loop, so the memory it
// then touches is charged to the group (v1 leaves a moved process's
// earlier pages charged where they were).
func (g *Group) Busy(t *testing.T) int {
	t.Helper()
	script := ""
	for _, d := range g.dirs {
		script += "echo $$ > " + filepath.Join(d, "cgroup.procs") + " && "
	}
	return spin(t, script)
}

// Quota is the files of a CPU quota of cores (period 100 ms) and a memory
// limit of memLimit bytes, with CPU accounting.
func Quota(cores float64, memLimit int64) map[string]map[string]string {
	return map[string]map[string]string{
		"cpu":     {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": strconv.Itoa(int(cores * 100000))},
		"cpuacct": {},
		"memory":  {"memory.limit_in_bytes": strconv.FormatInt(memLimit, 10)},
	}
}
