package register

import (
	"strings"
	"testing"
)

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"http://10.0.2.2:8080", "http://[fd00::1]:80/x/", "http://h", "https://h", "http://[::", "http://a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tgt, err := ParseURL(s)
		if err != nil {
			return
		}
		if tgt.Host == "" || tgt.Port == 0 || strings.HasSuffix(tgt.Prefix, "/") || strings.ContainsAny(tgt.Prefix, "?# \r\n") {
			t.Fatalf("ParseURL(%q) accepted a bad target %+v", s, tgt)
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{"HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n{}\n", "HTTP/1.1 99", "\r\n\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		status, body, err := readResponse(strings.NewReader(s))
		if err == nil && (status < 100 || status > 599 || len(body) > 200) {
			t.Fatalf("readResponse(%q) = %d, %q", s, status, body)
		}
	})
}

func FuzzDefaultGateway(f *testing.F) {
	f.Add("Iface\tDestination\tGateway\n" + "eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
	f.Fuzz(func(t *testing.T, s string) {
		if gw, ok := defaultGateway([]byte(s)); ok && !gw.Is4() {
			t.Fatalf("gateway %v is not IPv4", gw)
		}
	})
}
