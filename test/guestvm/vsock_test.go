package guestvm

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// vsockPort is where the agent listens on AF_VSOCK in these tests.
const vsockPort = "1024"

// TestVsockLoopback runs the agent with a vsock listener beside TCP and reaches it from
// inside the guest through the kernel's vsock loopback (CID 1). This covers the vsock
// listener on hosts without vhost-vsock, where the host cannot connect to the guest.
func TestVsockLoopback(t *testing.T) {
	t.Parallel()
	client := buildVsockClient(t)
	unit := buildSockTest(t)
	vm := bootAgent(t, vmtest.Config{
		AgentArgs: []string{"--listen", "vsock://:" + vsockPort + ",0.0.0.0:8080", "--interval", "1s"},
		Files:     map[string]string{"/usr/local/bin/vsockclient": client, "/usr/local/bin/sock.test": unit},
	})

	// internal/guestagent/sock's own vsock loopback test, which the host cannot run.
	out := vm.MustRun("/usr/local/bin/sock.test -test.run '^TestVsockLoopback$' -test.v -test.count=1 2>&1")
	if !strings.Contains(out, "--- PASS: TestVsockLoopback") {
		t.Errorf("internal/guestagent/sock TestVsockLoopback in the guest did not pass:\n%s", out)
	}

	status, body := vsockGet(t, vm, "/health")
	if status != http.StatusOK || strings.TrimSpace(body) != "OK" {
		t.Errorf("GET /health over vsock = %d %q, want 200 OK", status, body)
	}
	status, body = vsockGet(t, vm, "/metrics")
	var s sample
	if err := json.Unmarshal([]byte(body), &s); status != http.StatusOK || err != nil {
		t.Fatalf("GET /metrics over vsock = %d %q (%v), want 200 with JSON", status, body, err)
	}
	guest := guestInt(t, vm, "awk '/^MemTotal:/ {print $2}' /proc/meminfo")
	if s.MemoryTotalKB != guest {
		t.Errorf("memory_total_kb over vsock = %d, guest MemTotal = %d kB", s.MemoryTotalKB, guest)
	}
	// The TCP listener named in the same --listen keeps serving.
	if err := vm.WaitAgent(t.Context()); err != nil {
		t.Error(err)
	}
}

// vsockGet fetches path from the agent's vsock listener through the guest's loopback.
func vsockGet(t *testing.T, vm *vmtest.VM, path string) (int, string) {
	t.Helper()
	out := vm.MustRun("vsockclient 1 " + vsockPort + " " + path)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
	if err != nil {
		t.Fatalf("vsock response to GET %s is not HTTP: %v\n%s", path, err, out)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String()
}

// buildSockTest compiles internal/guestagent/sock's tests with the vsockloopback tag,
// which adds the test that needs the kernel's vsock loopback transport.
func buildSockTest(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not found in PATH: needed to build internal/guestagent/sock's tests for the guest")
	}
	out := filepath.Join(t.TempDir(), "sock.test")
	cmd := exec.Command(goBin, "test", "-c", "-tags", "vsockloopback", "-o", out, "./internal/guestagent/sock")
	root, err := vmtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building internal/guestagent/sock tests: %v\n%s", err, msg)
	}
	return out
}

// buildVsockClient builds ./vsockclient as a static binary for the guest.
func buildVsockClient(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not found in PATH: needed to build the guest's vsock test client")
	}
	out := filepath.Join(t.TempDir(), "vsockclient")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./vsockclient")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building vsockclient: %v\n%s", err, msg)
	}
	return out
}

// TestDefaultListenServesVsock: with no --listen the agent serves vsock port
// 8080 beside TCP, so a Firecracker host reaches it without guest network.
func TestDefaultListenServesVsock(t *testing.T) {
	t.Parallel()
	client := buildVsockClient(t)
	vm := bootAgent(t, vmtest.Config{
		AgentArgs: []string{"--interval", "1s"},
		Files:     map[string]string{"/usr/local/bin/vsockclient": client},
	})
	// Early in boot the vsock transport may not be registered yet; the agent
	// then serves TCP at once and vsock as soon as the kernel offers it.
	var out string
	var err error
	for range 10 {
		if out, err = vm.Run(t.Context(), "vsockclient 1 8080 /health"); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("%v\nagent log:\n%s", err, vm.MustRun("cat "+vmtest.GuestAgentLog))
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /health over vsock port 8080 with the default --listen: %v\n%s", err, out)
	}
	resp.Body.Close()
}
