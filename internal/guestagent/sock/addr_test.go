package sock

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseListenAddr(t *testing.T) {
	tests := []struct {
		in   string
		want listenAddr
	}{
		{"0.0.0.0:8080", listenAddr{ip: netip.MustParseAddr("0.0.0.0"), port: 8080}},
		{"127.0.0.1:0", listenAddr{ip: netip.MustParseAddr("127.0.0.1")}},
		{"[::1]:8080", listenAddr{ip: netip.MustParseAddr("::1"), port: 8080}},
		{"[::ffff:10.0.0.1]:80", listenAddr{ip: netip.MustParseAddr("10.0.0.1"), port: 80}},
		{"[fe80::1%eth0]:80", listenAddr{ip: netip.MustParseAddr("fe80::1%eth0"), port: 80}},
		{":8080", listenAddr{port: 8080}},
		{"localhost:65535", listenAddr{ip: netip.MustParseAddr("127.0.0.1"), port: 65535}},
		{"vsock://:1024", listenAddr{vsock: true, cid: cidAny, port: 1024}},
		{"vsock://3:1024", listenAddr{vsock: true, cid: 3, port: 1024}},
		{"vsock://:0", listenAddr{vsock: true, cid: cidAny}},
		{"vsock://4294967295:4294967294", listenAddr{vsock: true, cid: cidAny, port: 0xFFFFFFFE}},
	}
	for _, tt := range tests {
		got, err := parseListenAddr(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseListenAddr(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseListenAddrErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{":99999", `listen address ":99999": port 99999 out of range`},
		{"1.2.3.4:-1", `port "-1" is not a decimal number`},
		{"1.2.3.4:+80", `port "+80" is not a decimal number`},
		{"1.2.3.4:", "port is empty"},
		{"1.2.3.4", "missing port"},
		{"", "missing port"},
		{"http://1.2.3.4:80", `unsupported scheme "http"`},
		{"tcp://:80", `unsupported scheme "tcp"`},
		{"::1:80", "must be in brackets"},
		{"[::1:80", "missing ']'"},
		{"[::1]", "missing port"},
		{"[]:80", "empty IPv6 address"},
		{"example.com:80", `host "example.com" is not an IP address`},
		{"300.1.1.1:80", `host "300.1.1.1" is not an IP address`},
		{"vsock://", "missing port"},
		{"vsock://3", "missing port"},
		{"vsock://x:1", `cid "x" is not a decimal number`},
		{"vsock://:4294967295", "port 4294967295 out of range"},
		{"vsock://:99999999999", "out of range"},
	}
	for _, tt := range tests {
		_, err := parseListenAddr(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseListenAddr(%q) error = %v; want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestFormatVsock(t *testing.T) {
	if got := formatVsock(cidAny, 1024); got != "vsock://:1024" {
		t.Errorf("formatVsock(any, 1024) = %q", got)
	}
	if got := formatVsock(3, 52); got != "vsock://3:52" {
		t.Errorf("formatVsock(3, 52) = %q", got)
	}
}
