package manager

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/flood"
	"github.com/fcmon/fcmon/internal/testsupport/pgtest"
	"github.com/fcmon/fcmon/internal/testsupport/testcert"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// TestOneByteFlood: 1,000 connections that each send one byte and
// reconnect when closed do not keep /healthz and /metrics from answering
// promptly, and the manager's memory stays bounded.
func TestOneByteFlood(t *testing.T) {
	m := startManager(t, "")
	before := rssKB(t, m.Cmd.Process.Pid)
	var maxRSS uint64
	res := flood.Run(m.Addr, m.Addr, 1000, 6*time.Second, []string{"/healthz", "/metrics"},
		func() { maxRSS = max(maxRSS, rssKB(t, m.Cmd.Process.Pid)) })
	t.Logf("under 1,000 one-byte connections: %d probes, %d failed, p50 %v, p99 %v, RSS %d kB before, max %d kB",
		res.Probes, res.Failed, res.P50, res.P99, before, maxRSS)
	if res.Failed > 0 || res.P99 > 50*time.Millisecond {
		t.Errorf("%d of %d probes failed, p99 %v; want none and under 50 ms", res.Failed, res.Probes, res.P99)
	}
	if maxRSS > before+64*1024 {
		t.Errorf("RSS grew from %d to %d kB under the flood", before, maxRSS)
	}
}

// TestSlowBodyCutOff: a request body trickled at a byte a second no longer
// holds a connection open: --read-timeout ends it.
func TestSlowBodyCutOff(t *testing.T) {
	m := startManager(t, "", "--read-timeout", "2s")
	c, err := net.Dial("tcp", m.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /v1/vms HTTP/1.1\r\nHost: "+m.Addr+"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	done := make(chan struct{})
	go func() { // a byte a second, until the server gives up
		defer close(done)
		for range 20 {
			time.Sleep(time.Second)
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	io.Copy(io.Discard, c) // until the server closes
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("the trickling connection lasted %v; want it cut after the 2 s --read-timeout", d)
	}
}

// TestMaxStreams: WebSocket streams beyond --max-streams get a clear 503;
// streams outlive --read-timeout.
func TestMaxStreams(t *testing.T) {
	m := startManager(t, "", "--max-streams", "2", "--read-timeout", "1s")
	ctx := context.Background()
	var conns []*websocket.Conn
	for range 2 {
		c, _, err := websocket.Dial(ctx, "ws://"+m.Addr+"/v1/metrics/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		conns = append(conns, c)
	}
	_, resp, err := websocket.Dial(ctx, "ws://"+m.Addr+"/v1/metrics/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("third stream: %v %v, want 503", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "--max-streams") {
		t.Errorf("503 body %q does not name --max-streams", body)
	}
	go func() { // a reader, which Ping needs for the pong
		for {
			if _, _, err := conns[0].Read(ctx); err != nil {
				return
			}
		}
	}()
	time.Sleep(2 * time.Second) // past --read-timeout
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := conns[0].Ping(pctx); err != nil {
		t.Errorf("a stream did not outlive --read-timeout: %v", err)
	}
}

// TestPostgresDown: while PostgreSQL is down, writes answer 503 naming the
// database, and what is in memory is still served: the latest samples,
// the cached registry, /metrics. The manager recovers when it is back.
func TestPostgresDown(t *testing.T) {
	pgsrv, err := pgtest.Start("postgres-down test")
	if err != nil {
		t.Fatal(err)
	}
	defer pgsrv.Stop()
	if pgsrv.Skip != "" {
		t.Skip(pgsrv.Skip)
	}
	m := startManager(t, pgsrv.URL())
	g := startGuestAgent(t)
	host, port, _ := net.SplitHostPort(g.Addr)
	p, _ := strconv.Atoi(port)
	vm := m.register(t, map[string]any{"name": "a", "guest_ip": host, "guest_port": p})
	m.waitLatest(t, vm.ID, 5*time.Second, "a guest sample", isSource(wire.SourceGuest))
	pgsrv.Stop()

	status, body := m.call(t, "POST", "/v1/vms", map[string]any{"name": "b"})
	if status != 503 || !strings.Contains(string(body), "postgres database does not answer") {
		t.Errorf("register with the database down: %d %s", status, body)
	}
	m.waitLatest(t, vm.ID, 3*time.Second, "a fresh sample with the database down", isSource(wire.SourceGuest))
	var list []wire.VM
	m.must(t, 200, "GET", "/v1/vms", nil, &list)
	if len(list) != 1 || list[0].ID != vm.ID {
		t.Errorf("list with the database down: %+v", list)
	}
	if status, body := m.call(t, "GET", "/metrics", nil); status != 200 || !strings.Contains(string(body), vm.ID) {
		t.Errorf("/metrics with the database down: %d", status)
	}
	if status, body := m.call(t, "GET", "/healthz", nil); status != 503 || !strings.Contains(string(body), "postgres") {
		t.Errorf("/healthz with the database down: %d %s", status, body)
	}
}

// TestTLS: the manager and the host agent serve TLS with certificates made
// here; the manager dials an https host agent with the CA it is given and
// its client certificate. A wrong CA, an expired certificate and a missing
// client certificate are each refused.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "fcmon test CA")
	other := testcert.NewCA(t, "another CA")
	mgr := ca.IssueFiles(t, dir, "manager", testcert.Leaf{Name: "manager", IPs: []string{"127.0.0.1"}})
	hostSrv := ca.IssueFiles(t, dir, "host", testcert.Leaf{Name: "host agent", IPs: []string{"127.0.0.1"}})
	mgrClient := ca.IssueFiles(t, dir, "manager-client", testcert.Leaf{Name: "manager", Client: true})
	expired := ca.IssueFiles(t, dir, "expired", testcert.Leaf{Name: "host agent", IPs: []string{"127.0.0.1"}, NotAfter: time.Now().Add(-time.Hour)})
	wrong := other.IssueFiles(t, dir, "wrong", testcert.Leaf{Name: "manager", Client: true})

	startTLSHost := func(f testcert.Files) string {
		p := testprog.Start(t, hostAgentBin, t.TempDir(), nil, hostServing, "--listen", "127.0.0.1:0",
			"--tls-cert", f.Cert, "--tls-key", f.Key, "--tls-client-ca", mgr.CA)
		return "https://" + p.Addr
	}
	host := startTLSHost(hostSrv)
	oldHost := startTLSHost(expired)

	m := startManager(t, "", "--tls-cert", mgr.Cert, "--tls-key", mgr.Key, "--tls-client-ca", mgr.CA,
		"--host-agent-ca", mgr.CA, "--host-agent-cert", mgrClient.Cert, "--host-agent-key", mgrClient.Key)
	client := func(cert *testcert.Files, roots string) *http.Client {
		pool := x509.NewCertPool()
		pem, _ := os.ReadFile(roots)
		pool.AppendCertsFromPEM(pem)
		cfg := &tls.Config{RootCAs: pool}
		if cert != nil {
			c, err := tls.LoadX509KeyPair(cert.Cert, cert.Key)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{c}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
	}
	get := func(c *http.Client, url string) (int, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	url := "https://" + m.Addr + "/healthz"
	if code, err := get(client(&mgrClient, mgr.CA), url); err != nil || code != 200 {
		t.Errorf("the manager over TLS with a client certificate: %d %v", code, err)
	}
	if _, err := get(client(nil, mgr.CA), url); err == nil {
		t.Error("the manager accepted a client without a certificate")
	}
	if _, err := get(client(&wrong, mgr.CA), url); err == nil {
		t.Error("the manager accepted a client certificate of another CA")
	}
	if _, err := get(client(&mgrClient, wrong.CA), url); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("a client trusting another CA: %v, want refused", err)
	}
	if resp, err := http.Get("http://" + m.Addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS manager: %d, want Go's 400 for HTTP on an HTTPS port", resp.StatusCode)
		}
	}

	// The manager attaches VMs at the https host agent with its CA and
	// client certificate; one with an expired certificate is refused.
	tm := &manager{proc: m.proc, base: "https://" + m.Addr, client: client(&mgrClient, mgr.CA)}
	vm := tm.register(t, map[string]any{"name": "tls", "host_agent_url": host, "vmm_pid": startVMM(t)})
	if vm.HostAgent == nil || !vm.HostAgent.Attached {
		t.Errorf("attach over https: %+v", vm.HostAgent)
	}
	vm = tm.register(t, map[string]any{"name": "expired", "host_agent_url": oldHost, "vmm_pid": startVMM(t)})
	if vm.HostAgent == nil || vm.HostAgent.Attached || vm.HostAgent.Error != "network" {
		t.Errorf("attach to a host agent with an expired certificate: %+v, want refused", vm.HostAgent)
	}
}

func rssKB(t *testing.T, pid int) uint64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
