package fcstandin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The main goroutine stays on the process's main thread, as in a program's
// main, so TestMain can run a vCPU there.
func init() { runtime.LockOSThread() }

var mainThread struct {
	comm, vcpus string
}

// TestMain starts a vCPU on the process's main thread, the case in which
// the stand-in's comm once became "fc_vcpu 1" and discovery lost it: the
// vCPU must move to a thread of its own and the process keep its name.
func TestMain(m *testing.M) {
	before := readComm("/proc/self/comm")
	stop := make(chan struct{})
	go func() {
		time.Sleep(200 * time.Millisecond)
		mainThread.comm = readComm("/proc/self/comm")
		tasks, _ := filepath.Glob("/proc/self/task/*/comm")
		for _, t := range tasks {
			if c := readComm(t); strings.HasPrefix(c, "fc_vcpu") {
				mainThread.vcpus += c + ";"
			}
		}
		if mainThread.comm != before {
			mainThread.comm += " (was " + before + ")"
		}
		close(stop)
	}()
	vcpu(0, nil, stop)
	os.Exit(m.Run())
}

func readComm(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func TestVCPUNeverRenamesTheProcess(t *testing.T) {
	if strings.HasPrefix(mainThread.comm, "fc_vcpu") || strings.Contains(mainThread.comm, "(was") {
		t.Errorf("the process's comm became %q", mainThread.comm)
	}
	if mainThread.vcpus != "fc_vcpu 0;" {
		t.Errorf("vCPU threads %q, want one named fc_vcpu 0", mainThread.vcpus)
	}
}

// TestShimBuiltAtOnce: builders racing on an empty cache (the two guests
// of make run) all get the shim, and leave no temporary file behind.
func TestShimBuiltAtOnce(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (make test installs it)")
	}
	dir := t.TempDir()
	errs := make(chan error, 4)
	paths := make(chan string, 4)
	for range 4 {
		go func() {
			p, err := Shim(dir)
			errs <- err
			paths <- p
		}()
	}
	first := ""
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		p := <-paths
		if first == "" {
			first = p
		} else if p != first {
			t.Errorf("paths %s and %s", first, p)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != filepath.Base(first) {
		t.Errorf("the cache holds %v, want the shim alone", entries)
	}
}
