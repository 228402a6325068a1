package hostagent

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestForeignHostRefused is the DNS-rebinding defence: a request whose Host
// names another site is refused with 421 before it can attach anything.
func TestForeignHostRefused(t *testing.T) {
	root := t.TempDir()
	ta := startAgent(t, func(c *Config) { c.AllowPaths = root; c.AllowedHosts = "fc-host-1.example" })
	do := func(host, body string) (int, string) {
		req, _ := http.NewRequest("POST", ta.url+"/v1/vms", strings.NewReader(body))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	fifo := filepath.Join(root, "r.fifo")
	code, body := do("attacker.example:18080", `{"id":"r","metrics_fifo":"`+fifo+`"}`)
	if code != 421 || !strings.Contains(body, "--allowed-hosts") {
		t.Fatalf("foreign Host: %d %s, want 421", code, body)
	}
	if _, err := os.Stat(fifo); err == nil {
		t.Fatal("a refused request created the FIFO")
	}
	if len(ta.Host().VMs()) != 0 {
		t.Fatal("a refused request attached a VM")
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ta.url, "http://"))
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "fc-host-1.example:" + port} {
		if code, body := do(host, `{"id":"ok-`+strings.Split(host, ":")[0]+`"}`); code != 201 {
			t.Errorf("Host %s: %d %s, want 201", host, code, body)
		}
	}
}

// TestAttachPathsConfined: metrics_fifo and api_socket must lie under
// --allow-paths, symlinks included, and name the right kind of file.
func TestAttachPathsConfined(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	ta := startAgent(t, func(c *Config) { c.AllowPaths = root })
	regular := filepath.Join(root, "regular")
	os.WriteFile(regular, []byte("x\n"), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(root, "passwd-link"))
	os.Symlink(outside, filepath.Join(root, "out-dir"))
	os.Mkdir(filepath.Join(root, "dir"), 0o700)
	sock := filepath.Join(root, "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fifo := filepath.Join(root, "m.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"passwd", `{"id":"a","metrics_fifo":"/etc/passwd"}`, "outside the allowed directories"},
		{"absent outside", `{"id":"a","metrics_fifo":"` + filepath.Join(outside, "new.fifo") + `"}`, "outside the allowed directories"},
		{"symlink to passwd", `{"id":"a","metrics_fifo":"` + filepath.Join(root, "passwd-link") + `"}`, "resolves to /etc/passwd"},
		{"through a symlinked dir", `{"id":"a","metrics_fifo":"` + filepath.Join(root, "out-dir", "x.fifo") + `"}`, "outside the allowed directories"},
		{"dot-dot", `{"id":"a","metrics_fifo":"` + root + `/../x.fifo"}`, "not a clean path"},
		{"directory as fifo", `{"id":"a","metrics_fifo":"` + filepath.Join(root, "dir") + `"}`, "is a directory"},
		{"regular file as socket", `{"id":"a","api_socket":"` + regular + `"}`, "is a regular file, not a Unix socket"},
		{"fifo as socket", `{"id":"a","api_socket":"` + fifo + `"}`, "is a FIFO, not a Unix socket"},
		{"device", `{"id":"a","api_socket":"/dev/null"}`, "outside"},
	} {
		code, body := ta.call(t, "POST", "/v1/vms", tc.body, nil)
		if code != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", tc.name, code, body, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, "new.fifo")); err == nil {
		t.Error("a FIFO was created outside the allowed directories")
	}
	// A device inside the roots is refused for its kind.
	devRoot := startAgent(t, func(c *Config) { c.AllowPaths = "/dev" })
	if code, body := devRoot.call(t, "POST", "/v1/vms", `{"id":"d","metrics_fifo":"/dev/null"}`, nil); code != 400 || !strings.Contains(body, "is a device") {
		t.Errorf("device as FIFO: %d %s", code, body)
	}
	// What is right is attached.
	for _, body := range []string{
		`{"id":"ok1","metrics_fifo":"` + fifo + `","api_socket":"` + sock + `"}`,
		`{"id":"ok2","metrics_fifo":"` + filepath.Join(root, "created.fifo") + `","api_socket":"` + filepath.Join(root, "later.sock") + `"}`,
		`{"id":"ok3","metrics_fifo":"` + regular + `"}`,
	} {
		if code, resp := ta.call(t, "POST", "/v1/vms", body, nil); code != 201 {
			t.Errorf("%s: %d %s", body, code, resp)
		}
	}
}
