package register

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want Target
		err  string
	}{
		{in: "http://10.0.2.2:8080", want: Target{Host: "10.0.2.2", Port: 8080}},
		{in: "http://10.0.2.2", want: Target{Host: "10.0.2.2", Port: 80}},
		{in: "http://manager.local:9000/fcmon/", want: Target{Host: "manager.local", Port: 9000, Prefix: "/fcmon"}},
		{in: "http://[fd00::1]:8080/api", want: Target{Host: "fd00::1", Port: 8080, Prefix: "/api"}},
		{in: "http://[fd00::1]", want: Target{Host: "fd00::1", Port: 80}},
		{in: "https://10.0.2.2", err: "https is not supported"},
		{in: "ftp://x", err: "expected http://host[:port][/path]"},
		{in: "http://:8080", err: "missing host"},
		{in: "http://h:0", err: `port "0" is not a number from 1 to 65535`},
		{in: "http://h:99999", err: "is not a number from 1 to 65535"},
		{in: "http://h/x?y=1", err: "query, fragment"},
		{in: "http://user@h", err: "user info"},
		{in: "http://[fd00::1", err: "missing ]"},
		{in: "http://[fd00::1]x", err: "unexpected text after ]"},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseURL(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n# 10.9.9.9 manager\nfd00::5 manager # v6 first\n10.0.2.2\tManager mgr\n"), 0o644)
	for host, want := range map[string]string{"10.0.2.2": "10.0.2.2:80", "manager": "10.0.2.2:80", "MGR": "10.0.2.2:80", "::ffff:10.1.1.1": "10.1.1.1:80"} {
		got, err := Target{Host: host, Port: 80}.Resolve(hosts)
		if err != nil || got.String() != want {
			t.Errorf("Resolve(%s) = %v, %v; want %s", host, got, err, want)
		}
	}
	if _, err := (Target{Host: "nowhere", Port: 80}).Resolve(hosts); err == nil || !strings.Contains(err.Error(), "IP literals") {
		t.Errorf("unknown name: %v", err)
	}
}

func TestDefaultGateway(t *testing.T) {
	// The shape of /proc/net/route in a QEMU user-mode guest, plus a
	// worse-metric default, a route that is down and a malformed line.
	route := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0\n" +
		"eth2\t00000000\t0501A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"bad\t00000000\tzz\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
	gw, ok := defaultGateway([]byte(route))
	if !ok || gw != netip.MustParseAddr("10.0.2.2") {
		t.Errorf("defaultGateway = %v, %v; want 10.0.2.2", gw, ok)
	}
	if _, ok := defaultGateway([]byte("Iface\tDestination\n")); ok {
		t.Error("found a default route in a table without one")
	}
}

func TestParseAdvertise(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.5": "10.0.0.5:0", "10.0.0.5:9100": "10.0.0.5:9100", "[fd00::2]:80": "[fd00::2]:80"} {
		a, p, err := ParseAdvertise(in)
		if err != nil || netip.AddrPortFrom(a, p).String() != want {
			t.Errorf("ParseAdvertise(%q) = %v %v %v", in, a, p, err)
		}
	}
	for _, in := range []string{"", "host:80", "10.0.0.5:0", "10.0.0.5:x"} {
		if _, _, err := ParseAdvertise(in); err == nil {
			t.Errorf("ParseAdvertise(%q) accepted", in)
		}
	}
}

type call struct {
	method, path, contentType, auth string
	body                            map[string]any
}

// TestRunRetriesAndReregisters runs the loop against a real HTTP server that
// fails twice, then accepts; then the address changes and the agent
// registers again.
func TestRunRetriesAndReregisters(t *testing.T) {
	var mu sync.Mutex
	var calls []call
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c := call{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization")}
		if err := json.Unmarshal(b, &c.body); err != nil {
			t.Errorf("body %q is not JSON: %v", b, err)
		}
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
		if n.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"starting"}`)
			return
		}
		io.WriteString(w, `{"id":"x"}`)
	}))
	defer srv.Close()
	target, err := ParseURL(srv.URL + "/prefix")
	if err != nil {
		t.Fatal(err)
	}
	var addr atomic.Value
	addr.Store(netip.MustParseAddr("10.0.2.15"))
	registered := make(chan netip.Addr, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{Target: target, VMID: "6f1c0a52-1b7e-4b8e-9a55-0d5bd1f2c001", Token: "s3cret", Port: 8080,
		UserAgent: "test", MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Recheck: 20 * time.Millisecond,
		OnRegistered: func(a netip.Addr) { registered <- a },
		lookup:       func() (netip.Addr, error) { return addr.Load().(netip.Addr), nil }}
	go Run(ctx, cfg)

	if got := waitFor(t, registered); got != netip.MustParseAddr("10.0.2.15") {
		t.Fatalf("registered %v", got)
	}
	addr.Store(netip.MustParseAddr("10.0.2.16"))
	if got := waitFor(t, registered); got != netip.MustParseAddr("10.0.2.16") {
		t.Fatalf("re-registered %v", got)
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 4 {
		t.Fatalf("%d calls, want 2 refused, 1 accepted, 1 after the change: %+v", len(calls), calls)
	}
	for i, c := range calls {
		wantIP := "10.0.2.15"
		if i == 3 {
			wantIP = "10.0.2.16"
		}
		if c.method != "POST" || c.path != "/prefix/v1/vms/6f1c0a52-1b7e-4b8e-9a55-0d5bd1f2c001/guest-ip" ||
			c.contentType != "application/json" || c.auth != "Bearer s3cret" ||
			c.body["guest_ip"] != wantIP || c.body["guest_port"] != float64(8080) {
			t.Errorf("call %d = %+v", i, c)
		}
	}
}

func waitFor(t *testing.T, ch chan netip.Addr) netip.Addr {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no registration within 5s")
	}
	return netip.Addr{}
}

func TestPostErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"guest_ip \"127.0.0.1\" is outside the allowed ranges"}`)
	}))
	defer srv.Close()
	target, _ := ParseURL(srv.URL)
	to, _ := target.Resolve("/dev/null")
	err := post(context.Background(), target, to, "vm", "", "test", netip.MustParseAddr("127.0.0.1"), 8080)
	if err == nil || !strings.Contains(err.Error(), "manager answered 400") || !strings.Contains(err.Error(), "outside the allowed ranges") {
		t.Errorf("post error = %v", err)
	}
	srv.Close()
	if err := post(context.Background(), target, to, "vm", "", "test", netip.MustParseAddr("127.0.0.1"), 8080); err == nil {
		t.Error("post to a closed server succeeded")
	}
}

func TestReadResponse(t *testing.T) {
	tests := map[string]string{
		"HTTP/1.1 204 No Content\r\n\r\n":     "",
		"HTTP/1.0 200 OK\r\nX: y\r\n\r\nbody": "",
		"SSH-2.0-OpenSSH\r\n\r\n":             "not an HTTP/1.x status line",
		"HTTP/1.1 2x0 OK\r\n\r\n":             "invalid status code",
		"HTTP/1.1 200 OK\r\n":                 "without a complete response",
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", 400): "exceeds 8192 bytes",
	}
	for in, want := range tests {
		_, _, err := readResponse(strings.NewReader(in))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("readResponse(%.30q) = %v, want %q", in, err, want)
		}
	}
}

func TestValidVMID(t *testing.T) {
	for _, id := range []string{"6f1c0a52-1b7e-4b8e-9a55-0d5bd1f2c001", "vm_1.a"} {
		if !ValidVMID(id) {
			t.Errorf("ValidVMID(%q) = false", id)
		}
	}
	for _, id := range []string{"", "..", "a/b", "a b", "x?y", strings.Repeat("a", 129)} {
		if ValidVMID(id) {
			t.Errorf("ValidVMID(%q) = true", id)
		}
	}
}
