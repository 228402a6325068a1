package httpd

import (
	"errors"
	"testing"
)

func TestParseRequestValid(t *testing.T) {
	tests := []struct {
		name, in string
		want     Request
		n        int // 0 means len(in)
	}{
		{"minimal 1.1", "GET /health HTTP/1.1\r\nHost: vm\r\n\r\n",
			Request{Method: "GET", Target: "/health", Path: "/health", Host: "vm", ProtoMinor: 1}, 0},
		{"1.0 without host closes", "GET / HTTP/1.0\r\n\r\n",
			Request{Method: "GET", Target: "/", Path: "/", Close: true}, 0},
		{"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			Request{Method: "GET", Target: "/", Path: "/"}, 0},
		{"1.1 close", "HEAD / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n",
			Request{Method: "HEAD", Target: "/", Path: "/", Host: "a", ProtoMinor: 1, Close: true}, 0},
		{"query and fields", "GET /metrics?format=prometheus HTTP/1.1\r\nhost: 10.0.0.2:8080\r\n" +
			"ACCEPT: text/plain\r\nAccept: application/json;q=0.5\r\nAuthorization:  Bearer abc \r\n" +
			"X-Other: \x80\xff ok\t\r\n\r\n",
			Request{Method: "GET", Target: "/metrics?format=prometheus", Path: "/metrics",
				RawQuery: "format=prometheus", Host: "10.0.0.2:8080", ProtoMinor: 1,
				Accept: "text/plain, application/json;q=0.5", Authorization: "Bearer abc"}, 0},
		{"bare LF lines", "GET /a HTTP/1.1\nHost: [::1]:80\n\n",
			Request{Method: "GET", Target: "/a", Path: "/a", Host: "[::1]:80", ProtoMinor: 1}, 0},
		{"leading empty lines", "\r\n\nGET / HTTP/1.1\r\nHost:\r\n\r\n",
			Request{Method: "GET", Target: "/", Path: "/", ProtoMinor: 1}, 0},
		{"percent-decoded path", "GET /a%20b%2Fc?x=%41 HTTP/1.1\r\nHost: h\r\n\r\n",
			Request{Method: "GET", Target: "/a%20b%2Fc?x=%41", Path: "/a b/c", RawQuery: "x=%41", Host: "h", ProtoMinor: 1}, 0},
		{"content-length and unknown method", "DELETE /x HTTP/1.1\r\nHost: h\r\nContent-Length: 012\r\n\r\nbody",
			Request{Method: "DELETE", Target: "/x", Path: "/x", Host: "h", ProtoMinor: 1, ContentLength: 12}, 52},
		{"pipelined rest not consumed", "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\n",
			Request{Method: "GET", Target: "/", Path: "/", Host: "h", ProtoMinor: 1}, 27},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, n, err := ParseRequest([]byte(tt.in))
			want := tt.n
			if want == 0 {
				want = len(tt.in)
			}
			if err != nil || req != tt.want || n != want {
				t.Errorf("ParseRequest(%q)\n got %+v, %d, %v\nwant %+v, %d", tt.in, req, n, err, tt.want, want)
			}
		})
	}
}

func TestParseRequestErrors(t *testing.T) {
	tests := []struct {
		name, in string
		status   int // 0: ErrIncomplete
	}{
		{"empty", "", 0},
		{"partial line", "GET /metr", 0},
		{"partial head", "GET / HTTP/1.1\r\nHost: h\r\n", 0},
		{"trailing CR", "GET / HTTP/1.1\r\nHost: h\r\n\r", 0},
		{"tls handshake", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
		{"http2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"space in method prefix", " GET / HTTP/1.1\r\n", 400},
		{"bad request line early", "GET /\r\nHost: h\r\n", 400},
		{"http/0.9", "GET /\r\n\r\n", 400},
		{"double space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
		{"method not token", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"absolute form", "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"authority form", "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"ctl in target", "GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"tab in target", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"utf-8 in target", "GET /ä HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"bad escape", "GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"bad escape hex", "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
		{"short version", "GET / HTTP/1\r\nHost: h\r\n\r\n", 400},
		{"http/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
		{"http/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
		{"http/0.9 version", "GET / HTTP/0.9\r\n\r\n", 505},
		{"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"duplicate host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
		{"bad host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n", 400},
		{"obs-fold tab", "GET / HTTP/1.1\r\nHost: h\r\n\tb\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost h\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\n: h\r\n\r\n", 400},
		{"nul in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", 400},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},
		{"bare CR line end", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400},
		{"duplicate content-length", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
		{"content-length list", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n", 400},
		{"content-length sign", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400},
		{"content-length empty", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
		{"content-length huge", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"transfer-encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
		{"duplicate authorization", "GET / HTTP/1.1\r\nHost: h\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, n, err := ParseRequest([]byte(tt.in))
			if tt.status == 0 {
				if err != ErrIncomplete || n != 0 {
					t.Errorf("ParseRequest(%q) = %+v, %d, %v; want ErrIncomplete", tt.in, req, n, err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Status != tt.status || n != 0 {
				t.Errorf("ParseRequest(%q) = %+v, %d, %v; want status %d", tt.in, req, n, err, tt.status)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	r := Request{RawQuery: "a=1&format=prometheus&x=%41+b&x=2&bad=%zz&empty=&flag&a%3Db=3"}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"format", "prometheus", true},
		{"a", "1", true},
		{"x", "A b", true},
		{"empty", "", true},
		{"flag", "", true},
		{"a=b", "3", true},
		{"bad", "", false},
		{"missing", "", false},
	}
	for _, tt := range tests {
		if got, ok := r.Query(tt.name); got != tt.want || ok != tt.ok {
			t.Errorf("Query(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseRequestAllocs(t *testing.T) {
	buf := []byte("GET /metrics HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nAccept: */*\r\nUser-Agent: curl/8\r\n\r\n")
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := ParseRequest(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("ParseRequest allocates %v times; want 1 (the head copy)", allocs)
	}
}

func TestHeadEndIncremental(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
	// old bytes were searched before; new ones, at least one, arrived.
	for split := 0; split < len(head); split++ {
		if headEnd([]byte(head[:split]), 0) >= 0 {
			t.Fatalf("head end found in prefix of %d bytes", split)
		}
		if got := headEnd([]byte(head), max(split-2, 0)); got != len(head) {
			t.Fatalf("headEnd from %d = %d; want %d", split-2, got, len(head))
		}
	}
}
