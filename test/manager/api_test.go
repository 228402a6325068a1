package manager

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/promparse"

	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// TestStreamsAndPrometheus: two VMs, one read from its guest agent and one
// from its host agent only; the per-VM stream carries only its VM, the
// all-VM stream both, and /metrics parses with Prometheus's parser and
// labels both.
func TestStreamsAndPrometheus(t *testing.T) {
	guest := startGuestAgent(t)
	host := startHostAgent(t)
	m := startManager(t, "")
	ip, port := testprog.SplitAddr(t, guest.Addr)
	a := m.register(t, map[string]any{"name": "guest-vm", "guest_ip": ip, "guest_port": port})
	b := m.register(t, map[string]any{"name": "host-vm", "host_agent_url": "http://" + host.Addr, "vmm_pid": startVMM(t)})

	one, _ := m.subscribe(t, "/v1/vms/"+a.ID+"/metrics/ws", nil)
	all, _ := m.subscribe(t, "/v1/metrics/ws", nil)
	seen := map[string]string{}
	deadline := time.After(5 * time.Second)
	for len(seen) < 2 {
		select {
		case r := <-all:
			if r.s.Source != wire.SourceNone {
				seen[r.s.VMID] = r.s.Source
			}
		case <-deadline:
			t.Fatalf("all-VM stream: sources %v within 5s, want both VMs", seen)
		}
	}
	if seen[a.ID] != wire.SourceGuest || seen[b.ID] != wire.SourceHost {
		t.Errorf("all-VM stream sources %v", seen)
	}
	for range 4 {
		if r := next(t, one, 2*time.Second, "per-VM sample", func(wire.CombinedSample) bool { return true }); r.s.VMID != a.ID {
			t.Fatalf("per-VM stream of %s carried %s", a.ID, r.s.VMID)
		}
	}

	m.waitLatest(t, b.ID, 5*time.Second, "host sample", isSource(wire.SourceHost))
	status, text := m.call(t, "GET", "/metrics", nil)
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	families, err := promparse.Parse(text)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	labelled := map[string]string{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			var id, name string
			for _, l := range mt.GetLabel() {
				switch l.GetName() {
				case "vm_id":
					id = l.GetValue()
				case "vm_name":
					name = l.GetValue()
				}
			}
			if id != "" {
				labelled[id] = name
			}
		}
	}
	if labelled[a.ID] != "guest-vm" || labelled[b.ID] != "host-vm" {
		t.Errorf("/metrics labels VMs %v, want both with their names", labelled)
	}
}

// TestAuth: with a token, /v1 and /metrics refuse requests without it,
// WebSocket streams accept it as a query parameter or a subprotocol (echoing
// only the fcmon one), and /healthz and / stay open.
func TestAuth(t *testing.T) {
	const token = "integration-token-42"
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(token+"\n"), 0o600)
	m := startManager(t, "", "--api-token-file", file)
	for _, path := range []string{"/v1/vms", "/metrics", "/v1/metrics/ws"} {
		if status, _ := m.call(t, "GET", path, nil); status != http.StatusUnauthorized {
			t.Errorf("GET %s without token: %d, want 401", path, status)
		}
	}
	for _, path := range []string{"/healthz", "/"} {
		if status, _ := m.call(t, "GET", path, nil); status != http.StatusOK {
			t.Errorf("GET %s without token: %d, want 200", path, status)
		}
	}
	m.token = token
	vm := m.register(t, map[string]any{"name": "authed"})
	m.must(t, http.StatusOK, "GET", "/metrics", nil, nil)

	_, resp := m.subscribe(t, "/v1/metrics/ws?token="+token, nil)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("stream with ?token=: %d", resp.StatusCode)
	}
	_, resp = m.subscribe(t, "/v1/vms/"+vm.ID+"/metrics/ws",
		&websocket.DialOptions{Subprotocols: []string{"fcmon.v1", "bearer." + token}})
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "fcmon.v1" {
		t.Errorf("chosen subprotocol %q, want fcmon.v1 (and never the token)", got)
	}
}

// TestSelfRegistration: a guest agent started with --register-url and
// --vm-id (and the API token) sets its VM's guest_ip, and the manager then
// reads it.
func TestSelfRegistration(t *testing.T) {
	const token = "register-token"
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(token), 0o600)
	m := startManager(t, "", "--api-token-file", file)
	m.token = token
	vm := m.register(t, map[string]any{"name": "self"})
	guest := startGuestAgent(t, "--register-url", m.base, "--vm-id", vm.ID,
		"--register-token-file", file, "--advertise", "127.0.0.1")
	_, port := testprog.SplitAddr(t, guest.Addr)
	m.waitLatest(t, vm.ID, 5*time.Second, "guest sample after self-registration", isSource(wire.SourceGuest))
	var got struct {
		GuestIP   string `json:"guest_ip"`
		GuestPort int    `json:"guest_port"`
	}
	m.must(t, http.StatusOK, "GET", "/v1/vms/"+vm.ID, nil, &got)
	if got.GuestIP != "127.0.0.1" || got.GuestPort != port {
		t.Errorf("registered address %s:%d, want 127.0.0.1:%d", got.GuestIP, got.GuestPort, port)
	}
}

// TestRefusesNonLoopback: listening beyond loopback without a token stops
// the manager at start with status 2 and a one-line reason, before it
// creates anything.
func TestRefusesNonLoopback(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(managerBin, "--listen", "0.0.0.0:0")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	msg := strings.TrimSpace(stderr.String())
	if cmd.ProcessState.ExitCode() != 2 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "not a loopback address") {
		t.Errorf("exit %v, stderr %q; want status 2 and one line about loopback", err, msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the refused manager created ./data (%v)", err)
	}
}

// TestEmptyMachine: without configuration (but a free port) the manager
// creates ./data (mode 0700) with its SQLite database and serves the API.
func TestEmptyMachine(t *testing.T) {
	dir := t.TempDir()
	p := testprog.Start(t, managerBin, dir, nil, managerServing, "--listen", "127.0.0.1:0")
	m := &manager{proc: p, base: "http://" + p.Addr}
	var list []any
	m.must(t, http.StatusOK, "GET", "/v1/vms", nil, &list)
	if status, body := m.call(t, "GET", "/healthz", nil); status != 200 || string(body) != "OK" {
		t.Errorf("healthz %d %q", status, body)
	}
	fi, err := os.Stat(filepath.Join(dir, "data"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("./data: %v, %v; want a 0700 directory", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "fcmon.db")); err != nil {
		t.Error(err)
	}
}
