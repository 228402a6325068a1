package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
)

type body struct {
	ID    *string `json:"id"`
	Name  string  `json:"name"`
	Port  *int    `json:"guest_port"`
	Inner struct {
		A int `json:"a"`
	} `json:"inner"`
}

func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{`{"name":"a","guest_port":1}`, ""},
		{`{"name":"a","inner":{"a":1}}`, ""},
		{`{"name":"a","name":"b"}`, `key "name" appears twice`},
		{`{"Name":"a"}`, `did you mean "name"`},
		{`{"NAME":"a"}`, `case-sensitive`},
		{`{"inner":{"A":1}}`, `"inner.A"`},
		{`{"inner":{"a":1,"a":2}}`, `appears twice`},
		{`{"nope":1}`, `unknown field "nope"`},
		{"{\"name\":\"a\xff\"}", "not valid UTF-8"},
		{`{"name":"a"} {}`, "after the JSON object"},
		{`{"name":"a"} x`, "after the JSON object"},
		{``, "empty"},
		{`{"name":`, "truncated"},
		{`{"guest_port":"x"}`, `must be a JSON number`},
		{`[1]`, "must be a JSON object"},
	} {
		var b body
		err := DecodeStrict([]byte(tc.in), &b)
		var e Error
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.err != "" && (err == nil || !errors.As(err, &e) || e.Status != 400 || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err = %v, want a 400 saying %q", tc.in, err, tc.err)
		}
	}
}

func TestDecodeBodyLimits(t *testing.T) {
	req := func(ct, b string) error {
		r := httptest.NewRequest("POST", "/", strings.NewReader(b))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		var v body
		return DecodeBody(httptest.NewRecorder(), r, &v, 64)
	}
	var e Error
	if err := req("", `{}`); !errors.As(err, &e) || e.Status != 415 {
		t.Errorf("no content type: %v", err)
	}
	if err := req("text/plain", `{}`); !errors.As(err, &e) || e.Status != 415 {
		t.Errorf("text/plain: %v", err)
	}
	if err := req("application/json", `{"name":"`+strings.Repeat("x", 100)+`"}`); !errors.As(err, &e) || e.Status != 413 {
		t.Errorf("oversized: %v", err)
	}
	if err := req("application/json; charset=utf-8", `{"name":"ok"}`); err != nil {
		t.Errorf("valid: %v", err)
	}
}

func writeErr(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, err, slog.New(slog.DiscardHandler), "internal error")
}

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := RequireToken("s3cret", "host agent", "--token-file", writeErr, ok)
	for header, want := range map[string]int{
		"Bearer s3cret": 204, "bearer s3cret": 204, "BEARER s3cret": 204,
		"Bearer wrong": 401, "": 401, "Basic s3cret": 401, "Bearer s3crets3cret": 401,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("Authorization %q: %d, want %d", header, rec.Code, want)
		}
		if want == 401 && !strings.Contains(rec.Header().Get("WWW-Authenticate"), "fcmon host agent") {
			t.Errorf("401 without challenge: %v", rec.Header())
		}
	}
	if RequireToken("", "x", "y", writeErr, ok) == nil {
		t.Error("no token: nil handler")
	}
}

func TestCheckHost(t *testing.T) {
	hosts, err := netpolicy.NewHosts("127.0.0.1:18080", []string{"fcmon.example"})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := CheckHost(hosts, writeErr, ok)
	for host, want := range map[string]int{
		"127.0.0.1:18080": 204, "localhost:18080": 204, "fcmon.example": 204,
		"attacker.example:18080": 421, "10.1.1.1": 421,
	} {
		r := httptest.NewRequest("POST", "/v1/vms", nil)
		r.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("Host %q: %d, want %d", host, rec.Code, want)
		}
		if want == 421 {
			var e struct{ Error string }
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || !strings.Contains(e.Error, "--allowed-hosts") {
				t.Errorf("421 body %q", rec.Body)
			}
		}
	}
	for origin, want := range map[string]bool{
		"": true, "http://127.0.0.1:18080": true, "http://fcmon.example": true,
		"http://attacker.example:18080": false, "null": false,
	} {
		r := httptest.NewRequest("GET", "/v1/metrics/ws", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if got := OriginAllowed(r, hosts, nil); got != want {
			t.Errorf("Origin %q: %v, want %v", origin, got, want)
		}
	}
}

func TestRunWarnsOfPlainHTTPBeyondLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string // what the listener says it is bound to
		warn bool
	}{{"", false}, {"10.0.0.1:8080", true}} {
		var logBuf bytes.Buffer
		var ln net.Listener
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if tc.addr != "" { // nothing here may listen beyond loopback: pretend
			ln = fakeAddr{ln, tc.addr}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		s := Server{Handler: http.NotFoundHandler(), ShutdownTimeout: time.Second,
			Log: slog.New(slog.NewTextHandler(&logBuf, nil)), Listening: "test listening"}
		go func() { done <- s.Run(ctx, ln) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logBuf.String(), "clear text"); got != tc.warn {
			t.Errorf("%s: warning %v, want %v:\n%s", tc.addr, got, tc.warn, logBuf.String())
		}
		if !strings.Contains(logBuf.String(), `msg="test listening" addr=`) {
			t.Errorf("no listening line:\n%s", logBuf.String())
		}
	}
	if onLoopback(&net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 1}) || !onLoopback(&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}) {
		t.Error("onLoopback misjudges")
	}
}

// TestDecodeStrictMalformedEnds: malformed JSON inside an array or object
// is refused at once. The key check once looped forever on such a body (a
// Decoder in error keeps saying More), found by FuzzCreateHost with "[\\".
func TestDecodeStrictMalformedEnds(t *testing.T) {
	for _, in := range []string{`[\`, `[1,\`, `{"inner":[\`, `[[`, `{"inner":{"a":\`, `{"a":1,\`} {
		done := make(chan error, 1)
		go func() {
			var b body
			done <- DecodeStrict([]byte(in), &b)
		}()
		select {
		case err := <-done:
			var e Error
			if err == nil || !errors.As(err, &e) || e.Status != 400 {
				t.Errorf("%s: err = %v, want a 400", in, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: DecodeStrict did not return", in)
		}
	}
}

func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"name":"a","name":"b"}`, `{"Name":1}`, `{"inner":{"a":1}}`, `[]`, `{`, `[\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b body
		err := DecodeStrict(data, &b)
		if err == nil {
			// What was accepted decodes the same with plain encoding/json.
			var again body
			if jerr := json.Unmarshal(data, &again); jerr != nil {
				t.Fatalf("accepted %q that encoding/json refuses: %v", data, jerr)
			}
			return
		}
		var e Error
		if !errors.As(err, &e) || e.Status != 400 {
			t.Fatalf("%q: %v is not a 400", data, err)
		}
	})
}

// fakeAddr is a loopback listener that reports another address.
type fakeAddr struct {
	net.Listener
	addr string
}

func (f fakeAddr) Addr() net.Addr {
	ap := netip.MustParseAddrPort(f.addr)
	return net.TCPAddrFromAddrPort(ap)
}
