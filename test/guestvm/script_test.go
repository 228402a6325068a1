package guestvm

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// TestServiceFiles checks the OpenRC script with sh -n and the systemd unit with
// systemd-analyze verify, the files scripts/deploy-guest-agent.sh installs.
func TestServiceFiles(t *testing.T) {
	t.Parallel()
	root, err := vmtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("openrc", func(t *testing.T) {
		path := filepath.Join(root, "deploy", "openrc", "guest-agent")
		data := readOrSkip(t, path)
		if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", path, err, out)
		}
		if !bytes.HasPrefix(data, []byte("#!/sbin/openrc-run")) || !bytes.Contains(data, []byte(vmtest.GuestAgentPath)) {
			t.Errorf("%s should start with #!/sbin/openrc-run and run %s", path, vmtest.GuestAgentPath)
		}
	})
	t.Run("systemd", func(t *testing.T) {
		path := filepath.Join(root, "deploy", "systemd", "guest-agent.service")
		data := readOrSkip(t, path)
		analyze, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze not found in PATH (apt-get install systemd): unit not verified")
		}
		// verify insists that ExecStart's binary exists on this machine; point it at a
		// stand-in instead of installing anything into /usr/local/bin.
		dir := t.TempDir()
		stub := filepath.Join(dir, "guest-agent")
		if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		unit := filepath.Join(dir, "guest-agent.service")
		if !bytes.Contains(data, []byte(vmtest.GuestAgentPath)) {
			t.Errorf("%s does not run %s", path, vmtest.GuestAgentPath)
		}
		if err := os.WriteFile(unit, bytes.ReplaceAll(data, []byte(vmtest.GuestAgentPath), []byte(stub)), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, analyze, "verify", "--man=no", unit).CombinedOutput()
		// verify exits 0 on unknown keys, but says so: any remark about the unit fails.
		if err != nil || bytes.Contains(out, []byte("guest-agent.service")) {
			t.Errorf("systemd-analyze verify %s: %v\n%s", path, err, out)
		}
	})
}

func readOrSkip(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("%s does not exist yet", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestDeployScriptInteractive answers the script's questions on stdin and checks the
// printed paste-able commands carry the binary, its checksum and the service setup.
func TestDeployScriptInteractive(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "guest-agent")
	if err := os.WriteFile(bin, bytes.Repeat([]byte("not really an agent\n"), 2000), 0o755); err != nil {
		t.Fatal(err)
	}
	// Answers: method, VM id (empty: no registration), console socket (empty: print).
	cmd := exec.Command("bash", deployScript(t), "--interactive", "--binary", bin)
	cmd.Stdin = strings.NewReader("base64\n\n\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("deploy-guest-agent.sh --interactive: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"install method", "VM id", "console Unix socket"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the script did not ask for %q; stderr:\n%s", want, stderr.String())
		}
	}
	for _, want := range []string{"cat >>/tmp/guest-agent.b64 <<'", "base64 -d /tmp/guest-agent.b64 | gunzip -c", "sha256sum", vmtest.GuestAgentPath} {
		if !strings.Contains(out, want) {
			t.Errorf("printed commands lack %q", want)
		}
	}

	// Without a method and without a terminal the script must refuse, saying why.
	cmd = exec.Command("bash", deployScript(t), "--binary", bin)
	cmd.Stdin = strings.NewReader("")
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "--method is required") {
		t.Errorf("no --method, no terminal: err %v, output %q; want a failure naming --method", err, msg)
	}
}
