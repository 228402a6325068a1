// Package memcg makes memory cgroups with a small limit for tests: a
// process put in one and made to use more memory is killed by the host
// kernel's own OOM killer (a memory cgroup OOM), which logs it as it would
// any other. It works with cgroup v1's memory controller and with cgroup v2.
package memcg

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Group is a memory cgroup made for one test.
type Group struct {
	dir string
}

// New makes a memory cgroup below the test process's own, limited to limit
// bytes (without swap), removed at the test's end. It skips the test,
// naming the reason, when the machine does not let it make one.
func New(t *testing.T, limit int64) *Group {
	t.Helper()
	parent, v2, err := ownMemoryCgroup()
	if err != nil {
		t.Skipf("a memory cgroup for the test: %v (make test runs as root on a machine with the memory controller)", err)
	}
	dir := filepath.Join(parent, fmt.Sprintf("fcmon-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("a memory cgroup for the test: %v (needs root)", err)
	}
	g := &Group{dir: dir}
	t.Cleanup(func() {
		// Its processes are dead or killed by now; a cgroup with none is
		// removed with rmdir.
		for i := 0; i < 50 && os.Remove(dir) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	files := map[string]string{"memory.limit_in_bytes": strconv.FormatInt(limit, 10)}
	if v2 {
		files = map[string]string{"memory.max": strconv.FormatInt(limit, 10), "memory.swap.max": "0"}
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil && !(v2 && name == "memory.swap.max") {
			t.Fatalf("memory cgroup %s: %v", name, err)
		}
	}
	if !v2 {
		// Without swap in the limit, a swapping host would page out
		// instead of killing.
		_ = os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0o644)
	}
	return g
}

// Add moves process pid into the group; what it allocates from then on
// counts against the limit.
func (g *Group) Add(pid int) error {
	return os.WriteFile(filepath.Join(g.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// Procs is the group's cgroup.procs file: a process writing its PID there
// joins the group.
func (g *Group) Procs() string { return filepath.Join(g.dir, "cgroup.procs") }

// ownMemoryCgroup finds the directory of this process's memory cgroup:
// cgroup v1's memory hierarchy, else the unified (v2) one when it has the
// memory controller.
func ownMemoryCgroup() (dir string, v2 bool, err error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	var unified string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				return filepath.Join("/sys/fs/cgroup/memory", parts[2]), false, nil
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
		}
	}
	if unified == "" {
		return "", false, errors.New("no memory cgroup in /proc/self/cgroup")
	}
	dir = filepath.Join("/sys/fs/cgroup", unified)
	ctl, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err != nil || !strings.Contains(string(ctl), "memory") {
		return "", false, fmt.Errorf("the memory controller is not enabled below %s", dir)
	}
	return dir, true, nil
}
