package fcstandin

import (
	"os"
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
