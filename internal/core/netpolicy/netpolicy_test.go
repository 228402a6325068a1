package netpolicy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestListCheck(t *testing.T) {
	guests := MustParseList("--guest-allow-cidrs", PrivateRanges)
	hosts := MustParseList("--host-agent-allow-cidrs", LoopbackAndPrivate)
	for _, tc := range []struct {
		list List
		ip   string
		ok   bool
		why  string
	}{
		{guests, "10.1.2.3", true, ""},
		{guests, "192.168.1.100", true, ""},
		{guests, "::ffff:10.0.0.1", true, ""},
		{guests, "127.0.0.1", false, "outside the allowed networks"},
		{guests, "8.8.8.8", false, "outside the allowed networks"},
		{guests, "169.254.169.254", false, "metadata"},
		{guests, "::ffff:169.254.169.254", false, "metadata"},
		{guests, "169.254.1.1", false, "link-local"},
		{guests, "fe80::1", false, "link-local"},
		{guests, "100.100.100.200", false, "Alibaba"}, // inside 100.64/10
		{guests, "fd00:ec2::254", false, "AWS"},       // inside fc00::/7
		{guests, "224.0.0.1", false, "multicast"},
		{guests, "0.0.0.0", false, "unspecified"},
		{hosts, "127.0.0.1", true, ""},
		{hosts, "::1", true, ""},
		{hosts, "169.254.169.254", false, "metadata"},
		{MustParseList("x", "64:ff9b::/96"), "64:ff9b::a9fe:a9fe", false, "metadata"}, // NAT64 of 169.254.169.254
		{MustParseList("x", "0.0.0.0/0,::/0"), "168.63.129.16", false, "Azure"},
		{List{}, "10.0.0.1", false, "outside"},
	} {
		err := tc.list.Check(netip.MustParseAddr(tc.ip))
		if (err == nil) != tc.ok {
			t.Errorf("Check(%s) with %s = %v, want ok=%v", tc.ip, tc.list, err, tc.ok)
			continue
		}
		if err != nil && (!errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), tc.why)) {
			t.Errorf("Check(%s) = %q, want ErrNotAllowed saying %q", tc.ip, err, tc.why)
		}
	}
	if err := guests.Check(netip.MustParseAddr("fe80::1%eth0")); err == nil {
		t.Error("an address with a zone passed")
	}
}

func TestEveryMetadataAddressRefusedByWidestList(t *testing.T) {
	all := MustParseList("x", "0.0.0.0/0,::/0")
	for _, m := range Metadata {
		if all.Allows(m.Addr) {
			t.Errorf("%s (%s) allowed", m.Addr, m.What)
		}
	}
}

func TestParseList(t *testing.T) {
	if _, err := ParseList("--x", " , "); err == nil {
		t.Error("an empty list was accepted")
	}
	if _, err := ParseList("--x", "10.0.0.0/8,bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("err = %v", err)
	}
	l, err := ParseList("--x", "10.0.0.5, fd00::/8")
	if err != nil || !l.Allows(netip.MustParseAddr("10.0.0.5")) || l.Allows(netip.MustParseAddr("10.0.0.6")) {
		t.Errorf("list %v, %v", l, err)
	}
}

func TestControlChecksTheDialledAddress(t *testing.T) {
	l := MustParseList("--host-agent-allow-cidrs", PrivateRanges) // no loopback
	for addr, ok := range map[string]bool{
		"10.0.0.1:9091":         true,
		"127.0.0.1:9091":        false,
		"[::ffff:127.0.0.1]:80": false,
		"169.254.169.254:80":    false,
		"not-an-address":        false,
	} {
		err := l.Control("tcp4", addr, nil)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrNotAllowed)) {
			t.Errorf("Control(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
	// A real dial: the listener is on loopback, which the list does not
	// allow, so the connection must never be made.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	d := net.Dialer{Control: l.Control}
	if c, err := d.Dial("tcp", ln.Addr().String()); err == nil || !errors.Is(err, ErrNotAllowed) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial to a loopback listener: %v, want refused", err)
	}
	ln.Close()
	select {
	case <-accepted:
		t.Fatal("the listener accepted a connection the policy refused")
	default:
	}
}

func TestParseAgentURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"http://10.0.0.1:9091", "http://10.0.0.1:9091", ""},
		{"HTTP://Host-1.Example.COM:9091/", "http://host-1.example.com:9091", ""},
		{"https://[fd00::1]:9091", "https://[fd00::1]:9091", ""},
		{"http://localhost:9091", "http://localhost:9091", ""},
		{"http://127.0.0.1:19999/latest/meta-data", "", "has a path"},
		{"http://0x7f.1:9091", "", "ends in a number"},
		{"https://2852039166", "", "dotted-quad"},
		{"http://0177.0.0.1", "", "dotted-quad"},
		{"http://127.1", "", "dotted-quad"},
		{"http://user:pw@10.0.0.1", "", "user information"},
		{"http://10.0.0.1?x=1", "", "query or fragment"},
		{"http://10.0.0.1#f", "", "query or fragment"},
		{"ftp://10.0.0.1", "", "not an http"},
		{"http://[fe80::1%25eth0]:80", "", "without zone"},
		{"http://10.0.0.1:0", "", "port"},
		{"http://10.0.0.1:99999", "", "port"},
		{"http://10.0.0.1:", "", "empty port"},
		{"http://", "", "no host"},
		{"http://exa_mple.com", "", "not a host name"},
		{"http://a..b", "", "not a host name"},
		{"//10.0.0.1", "", "not an http"},
		{"http://10.0.0.1\\@evil", "", "backslash"},
		{strings.Repeat("a", MaxURLBytes+1), "", "bytes long"},
	} {
		got, err := ParseAgentURL("host_agent_url", tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseAgentURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseAgentURL(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.err)
		}
	}
}

func TestCheckURLHost(t *testing.T) {
	l := MustParseList("--host-agent-allow-cidrs", LoopbackAndPrivate)
	resolve := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		switch host {
		case "good.internal":
			return []netip.Addr{netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("fd00::7")}, nil
		case "mixed.internal":
			return []netip.Addr{netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("169.254.169.254")}, nil
		}
		return nil, errors.New("no such host")
	}
	ctx := context.Background()
	for u, ok := range map[string]bool{
		"http://good.internal:9091":    true,
		"http://mixed.internal:9091":   false, // one address not allowed is enough
		"http://absent.internal:9091":  false,
		"http://127.0.0.1:9091":        true,
		"http://169.254.169.254":       false,
		"http://[::ffff:a9fe:a9fe]:80": false,
	} {
		if err := l.CheckURLHost(ctx, u, resolve); (err == nil) != ok {
			t.Errorf("CheckURLHost(%s) = %v, want ok=%v", u, err, ok)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:1": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.1:80": false, "example.com:80": false,
	} {
		got, err := IsLoopback(addr)
		if err != nil || got != want {
			t.Errorf("IsLoopback(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
	for _, bad := range []string{"8080", "127.0.0.1:", "[::1"} {
		if _, err := IsLoopback(bad); err == nil {
			t.Errorf("IsLoopback(%q) accepted", bad)
		}
	}
}

func TestHosts(t *testing.T) {
	h, err := NewHosts("127.0.0.1:8080", []string{"fcmon.example.com", "*.corp.example", "10.0.2.100"})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"":                           true,
		"127.0.0.1:8080":             true,
		"127.0.0.2":                  true,
		"[::1]:8080":                 true,
		"localhost:8080":             true,
		"LOCALHOST.":                 true,
		"fcmon.example.com:443":      true,
		"ui.corp.example":            true,
		"10.0.2.100:8080":            true,
		"attacker.example:18080":     false,
		"corp.example":               false,
		"10.0.0.9":                   false,
		"localhost.attacker.example": false,
		"[fe80::1%25eth0]:80":        false,
	} {
		if got := h.Allowed(host); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", host, got, want)
		}
	}
	w, err := NewHosts("0.0.0.0:8080", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.readAddr = func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: net.ParseIP("10.0.0.5"), Mask: net.CIDRMask(24, 32)}}, nil
	}
	if !w.Allowed("10.0.0.5:8080") || w.Allowed("10.0.0.6:8080") || w.Allowed("rebind.example") {
		t.Error("a wildcard listener does not answer exactly its own addresses")
	}
	n, _ := NewHosts("10.0.0.5:8080", nil)
	if !n.Allowed("10.0.0.5:8080") || n.Allowed("10.0.0.6") {
		t.Error("a listener on one address does not answer exactly it")
	}
	for _, bad := range []string{"http://x", "x:80", "*.", "*.-bad"} {
		if _, err := NewHosts("127.0.0.1:1", []string{bad}); err == nil {
			t.Errorf("--allowed-hosts %q accepted", bad)
		}
	}
}

func FuzzParseAgentURL(f *testing.F) {
	for _, s := range []string{"http://10.0.0.1:9091", "https://[fd00::1]", "http://0x7f.1", "http://a.b.c:1/", "http://u@h"} {
		f.Add(s)
	}
	l := MustParseList("x", LoopbackAndPrivate)
	f.Fuzz(func(t *testing.T, raw string) {
		canon, err := ParseAgentURL("u", raw)
		if err != nil {
			return
		}
		again, err := ParseAgentURL("u", canon)
		if err != nil || again != canon {
			t.Fatalf("canonical %q of %q does not parse to itself: %q, %v", canon, raw, again, err)
		}
		// An accepted URL's host is an address or a name; a name never
		// reaches the network here.
		l.CheckURLHost(context.Background(), canon, func(context.Context, string, string) ([]netip.Addr, error) {
			return nil, errors.New("no look-ups in fuzzing")
		})
	})
}

func FuzzHosts(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", "attacker.example", "[::1]:1", "", "localhost."} {
		f.Add(s)
	}
	h, _ := NewHosts("127.0.0.1:8080", []string{"*.example.com"})
	f.Fuzz(func(t *testing.T, host string) {
		if h.Allowed(host) && strings.Contains(strings.ToLower(host), "attacker") && !strings.HasSuffix(strings.TrimSuffix(strings.ToLower(host), "."), ".example.com") {
			hp, _, err := net.SplitHostPort(host)
			if err != nil {
				hp = host
			}
			if ip, err := netip.ParseAddr(strings.Trim(hp, "[]")); err != nil || !ip.Unmap().IsLoopback() {
				t.Fatalf("Allowed(%q)", host)
			}
		}
	})
}
