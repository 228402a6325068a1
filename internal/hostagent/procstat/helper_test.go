package procstat

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the child processes the tests measure: with
// PROCSTAT_HELPER set, TestMain runs the helper instead of the tests.
const helperEnv = "PROCSTAT_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		runHelper(mode)
		return
	}
	os.Exit(m.Run())
}

var sink uint64

//go:noinline
func spin() {
	for {
		sink++
	}
}

// runHelper prints "ready" once the child is in its steady state, then runs
// until killed: "busy" spins one thread, "sleep" blocks, "vcpus" spins two
// locked OS threads named like Firecracker's vCPU threads.
func runHelper(mode string) {
	switch mode {
	case "busy":
		fmt.Println("ready")
		spin()
	case "sleep":
		fmt.Println("ready")
		select {}
	case "vcpus":
		// Keep the main thread for main, as Firecracker's main thread is
		// not a vCPU: a spinner locked to it would rename the process.
		runtime.LockOSThread()
		named := make(chan error)
		for i := range 2 {
			go func() {
				runtime.LockOSThread()
				comm := fmt.Sprintf("/proc/self/task/%d/comm", syscall.Gettid())
				named <- os.WriteFile(comm, []byte("fc_vcpu "+strconv.Itoa(i)), 0)
				spin()
			}()
		}
		for range 2 {
			if err := <-named; err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
		fmt.Println("ready")
		select {}
	}
	os.Exit(2)
}

// startHelper starts the test binary in a helper mode and waits until it is
// ready; the child is killed at the end of the test.
func startHelper(t *testing.T, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "GOMAXPROCS=4")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line != "ready\n" {
			t.Fatalf("helper %s: %q", mode, line)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("helper %s not ready", mode)
	}
	return cmd
}

// schedTimes are the scheduler's own nanosecond accounting of a process
// (/proc/<pid>/task/*/schedstat): time run on a CPU and time spent waiting
// on a run queue, for all threads and for the fc_vcpu threads.
type schedTimes struct {
	run, wait, vcpuRun, vcpuWait uint64
	at                           time.Time
}

func readSched(pid int) (schedTimes, bool) {
	st := schedTimes{at: time.Now()}
	dirs, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "schedstat"))
		f := strings.Fields(string(b))
		if err != nil || len(f) < 2 {
			return st, false
		}
		run, _ := strconv.ParseUint(f[0], 10, 64)
		wait, _ := strconv.ParseUint(f[1], 10, 64)
		st.run += run
		st.wait += wait
		if comm, _ := os.ReadFile(filepath.Join(d, "comm")); vcpuName.MatchString(strings.TrimSpace(string(comm))) {
			st.vcpuRun += run
			st.vcpuWait += wait
		}
	}
	return st, len(dirs) > 0
}

// shares turns two schedTimes into percent of one core.
func shares(a, b schedTimes) (run, wait, vcpuRun, vcpuWait float64) {
	sec := b.at.Sub(a.at).Seconds()
	p := func(x, y uint64) float64 { return float64(y-x) / 1e9 / sec * 100 }
	return p(a.run, b.run), p(a.wait, b.wait), p(a.vcpuRun, b.vcpuRun), p(a.vcpuWait, b.vcpuWait)
}
