package procfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tempTree writes files (path relative to the root -> content) under a new
// directory and returns an FS whose proc and sys roots are its proc/ and sys/.
func tempTree(t *testing.T, files map[string]string) FS {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return NewFS(filepath.Join(dir, "proc"), filepath.Join(dir, "sys"))
}

func TestSmallFiles(t *testing.T) {
	fsys := tempTree(t, map[string]string{
		"proc/sys/kernel/hostname":       "(none)\n",
		"proc/sys/kernel/osrelease":      "6.1.0\n",
		"proc/sys/kernel/random/boot_id": "\n",
		"proc/cmdline":                   "",
		"proc/1/.keep":                   "",
		"proc/42/.keep":                  "",
		"proc/self":                      "",
		"proc/1a/.keep":                  "",
		"sys/devices/system/cpu/online":  "0-1,3\n",
		"proc/stat":                      "cpu 1 1 1 1\ncpu0 1 1 1 1\nctxt 1\nbtime 1\n",
		"proc/sys/kernel/two-lines":      "a\nb\n",
	})
	host, err := fsys.Hostname()
	mustEqual(t, "Hostname", host, err, "(none)")
	rel, err := fsys.OSRelease()
	mustEqual(t, "OSRelease", rel, err, "6.1.0")
	cmd, err := fsys.Cmdline()
	mustEqual(t, "Cmdline", cmd, err, "")
	if _, err := fsys.BootID(); err == nil || !strings.Contains(err.Error(), "boot_id: line 1: empty") {
		t.Errorf("BootID of an empty file: %v", err)
	}
	if _, err := fsys.readLine("sys/kernel/two-lines", true); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("readLine of two lines: %v", err)
	}
	n, err := fsys.ProcessCount()
	mustEqual(t, "ProcessCount", n, err, 2)
	// sysfs wins over /proc/stat, which lists only one CPU here.
	cpus, err := fsys.OnlineCPUs()
	mustEqual(t, "OnlineCPUs", cpus, err, 3)
}

func TestOnlineCPUsGarbled(t *testing.T) {
	fsys := tempTree(t, map[string]string{
		"sys/devices/system/cpu/online": "0-x\n",
		"proc/stat":                     "cpu 1 1 1 1\ncpu0 1 1 1 1\nctxt 1\nbtime 1\n",
	})
	// A garbled sysfs file is an error, not a reason to fall back.
	if _, err := fsys.OnlineCPUs(); err == nil || !strings.Contains(err.Error(), "online: line 1") {
		t.Errorf("OnlineCPUs error = %v", err)
	}
}

func TestProcessCountMissingRoot(t *testing.T) {
	if _, err := NewFS(filepath.Join(t.TempDir(), "none"), "").ProcessCount(); !os.IsNotExist(err) {
		t.Errorf("ProcessCount error = %v, want not-exist", err)
	}
}

// TestProcessCountMatchesReadDir checks the raw directory reader against
// os.ReadDir on this machine's live /proc.
func TestProcessCountMatchesReadDir(t *testing.T) {
	for range 3 { // processes come and go between the two reads: allow a retry
		entries, err := os.ReadDir("/proc")
		if err != nil {
			t.Skip("no /proc on this machine")
		}
		want := 0
		for _, e := range entries {
			if _, err := parseUint(e.Name()); err == nil && e.IsDir() {
				want++
			}
		}
		got, err := NewFS("/proc", "/sys").ProcessCount()
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		t.Logf("ProcessCount = %d, os.ReadDir counted %d; retrying", got, want)
	}
	t.Error("ProcessCount disagrees with os.ReadDir three times")
}

func TestOOMKills(t *testing.T) {
	for in, want := range map[string]struct {
		n     uint64
		found bool
		err   bool
	}{
		"nr_free_pages 12\noom_kill 3\nnr_foo 1\n": {3, true, false},
		"nr_free_pages 12\n":                       {0, false, false},
		"oom_kill x\n":                             {0, false, true},
		"oom_kill 3":                               {0, false, true}, // truncated
		"":                                         {0, false, false},
	} {
		v, err := parseOOMKill([]byte(in))
		if v.n != want.n || v.found != want.found || (err != nil) != want.err {
			t.Errorf("parseOOMKill(%q) = %+v, %v; want %+v", in, v, err, want)
		}
	}
	n, found, err := NewFS("testdata/linux-6.18/proc", "testdata/linux-6.18/sys").OOMKills()
	if err != nil || !found || n != 0 {
		t.Errorf("fixture: %d, %v, %v", n, found, err)
	}
}
