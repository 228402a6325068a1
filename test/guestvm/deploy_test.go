package guestvm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// TestDeployOverConsole boots a guest without the agent and installs it with
// scripts/deploy-guest-agent.sh typing base64 into the serial console, then again with
// the HTTP download method; after each the agent must serve, and the script must have
// registered the guest's address with the (fake) manager, token included.
func TestDeployOverConsole(t *testing.T) {
	t.Parallel()
	script := deployScript(t)
	agent := vmtest.GuestAgent(t)
	if _, err := exec.LookPath("socat"); err != nil {
		t.Skip("socat not found in PATH: run scripts/vm-assets.sh (it installs socat)")
	}
	regs := make(chan registration, 4)
	managerPort := hostServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		regs <- newRegistration(r, body)
		_, _ = w.Write([]byte(`{}`))
	}))
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := newUUID(t)
	vm := vmtest.Boot(t, vmtest.Config{MemoryMiB: 256})
	common := []string{"--binary", agent, "--vm-id", id, "--token-file", tokenFile,
		"--manager", fmt.Sprintf("http://127.0.0.1:%d", managerPort), "--timeout", "120"}

	httpPort := freeTCPPort(t)
	methods := []struct {
		name string
		args []string
	}{
		{"base64", []string{"--method", "base64"}},
		{"http", []string{"--method", "http", "--http-bind", "127.0.0.1",
			"--http-port", fmt.Sprint(httpPort),
			"--http-url", fmt.Sprintf("http://%s:%d/guest-agent", vmtest.HostIP, httpPort)}},
	}
	for _, m := range methods {
		sock := vm.ReleaseConsole()
		args := append(append([]string{script, "--console-socket", sock}, m.args...), common...)
		start := time.Now()
		runScript(t, 4*time.Minute, args...)
		t.Logf("%s install took %v", m.name, time.Since(start).Round(time.Millisecond))

		if err := vm.WaitAgent(context.Background()); err != nil {
			t.Fatalf("after the %s install: %v", m.name, err)
		}
		guest := guestInt(t, vm, "awk '/^MemTotal:/ {print $2}' /proc/meminfo")
		if got := metrics(t, vm).MemoryTotalKB; got != guest {
			t.Errorf("after the %s install: memory_total_kb = %d, guest MemTotal = %d kB", m.name, got, guest)
		}
		var reg registration
		select {
		case reg = <-regs:
		case <-time.After(5 * time.Second):
			t.Fatalf("after the %s install the script registered nothing with the manager", m.name)
		}
		wantBody := fmt.Sprintf(`{"guest_ip":%q,"guest_port":8080}`, vmtest.GuestIP)
		var gotBody, want any
		_ = json.Unmarshal([]byte(wantBody), &want)
		if err := json.Unmarshal(reg.body, &gotBody); err != nil || fmt.Sprint(gotBody) != fmt.Sprint(want) {
			t.Errorf("registration body %s, want %s", reg.body, wantBody)
		}
		if reg.method != http.MethodPost || reg.path != "/v1/vms/"+id+"/guest-ip" ||
			reg.contentType != "application/json" || reg.auth != "Bearer s3cret" {
			t.Errorf("registration %s %s (Content-Type %q, Authorization %q), want POST /v1/vms/%s/guest-ip as JSON with the token",
				reg.method, reg.path, reg.contentType, reg.auth, id)
		}
	}
}

// deployScript returns the path of scripts/deploy-guest-agent.sh.
func deployScript(t *testing.T) string {
	t.Helper()
	root, err := vmtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "scripts", "deploy-guest-agent.sh")
}

// runScript runs bash with args, bounded by timeout, failing t with the output on error.
func runScript(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Stdin = strings.NewReader("")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// freeTCPPort returns a port on 127.0.0.1 that was free a moment ago.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
