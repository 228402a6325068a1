package httpd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

// countingListener counts accepted connections.
type countingListener struct {
	sock.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (sock.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// testHandler serves /health, /metrics (JSON), /echo (the target) and
// /block (waits for the release channel, if any).
func testHandler(release <-chan struct{}) Handler {
	return func(r *Request) Response {
		switch r.Path {
		case "/health":
			return Response{ContentType: "text/plain", Body: []byte("OK")}
		case "/metrics":
			return Response{ContentType: "application/json", Body: []byte(`{"cpu_usage_percent":1.5}`)}
		case "/echo":
			return Response{ContentType: "text/plain", Body: []byte(r.Method + " " + r.Target)}
		case "/block":
			<-release
			return Response{ContentType: "text/plain", Body: []byte("released")}
		case "/panic":
			panic("boom")
		case "/auth":
			return Response{Status: 401, Header: [][2]string{{"WWW-Authenticate", `Bearer realm="agent"`},
				{"X-Bad", "a\r\nInjected: yes"}, {"Content-Length", "1"}}}
		}
		return Error(404, "no such path")
	}
}

// start serves s on a fresh loopback listener and stops it when the test
// ends, checking that Serve then returns ErrServerClosed.
func start(t testing.TB, s *Server) (addr string, l *countingListener) {
	t.Helper()
	if s.Handler == nil {
		s.Handler = testHandler(nil)
	}
	sl, err := sock.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = &countingListener{Listener: sl}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
			s.Close()
		}
		select {
		case err := <-served:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v; want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return sl.Addr(), l
}

// rawConn is a client connection speaking raw bytes.
type rawConn struct {
	t *testing.T
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, Conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one response, with its body, to a request of the given method.
func (c *rawConn) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.r, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading body: %v", err)
	}
	return resp, string(body)
}

// expectEOF checks that the server closes the connection within d.
func (c *rawConn) expectEOF(d time.Duration) {
	c.t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	n, err := c.r.Read(make([]byte, 1))
	if err != io.EOF {
		c.t.Fatalf("read = %d, %v; want the server to close the connection (EOF)", n, err)
	}
}

func TestKeepAliveNetHTTP(t *testing.T) {
	addr, l := start(t, &Server{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for i := 0; i < 200; i++ {
		resp, err := client.Get("http://" + addr + "/health")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "OK" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("request %d: %d %q %v", i, resp.StatusCode, body, resp.Header)
		}
	}
	if n := l.n.Load(); n != 1 {
		t.Errorf("200 sequential requests used %d connections; want 1 (keep-alive)", n)
	}
}

func TestResponseHead(t *testing.T) {
	addr, _ := start(t, &Server{})
	c := dial(t, addr)
	c.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.read("GET")
	if resp.StatusCode != 200 || resp.Proto != "HTTP/1.1" || body != `{"cpu_usage_percent":1.5}` {
		t.Fatalf("GET /metrics = %s %q", resp.Status, body)
	}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	if resp.ContentLength != int64(len(body)) || resp.Header.Get("Connection") != "" {
		t.Errorf("Content-Length %d, Connection %q", resp.ContentLength, resp.Header.Get("Connection"))
	}
	c.send("GET /auth HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ = c.read("GET")
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="agent"` ||
		resp.Header.Get("Injected") != "" || resp.Header.Get("X-Bad") != "" || resp.ContentLength != 0 {
		t.Errorf("GET /auth = %s %v", resp.Status, resp.Header)
	}
	c.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body = c.read("GET")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" ||
		body != `{"error":"no such path"}`+"\n" {
		t.Errorf("GET /nope = %s %q", resp.Status, body)
	}
}

func TestHead(t *testing.T) {
	addr, _ := start(t, &Server{})
	c := dial(t, addr)
	c.send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := c.read("HEAD")
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(`{"cpu_usage_percent":1.5}`)) || body != "" {
		t.Fatalf("HEAD = %s, Content-Length %d, body %q", resp.Status, resp.ContentLength, body)
	}
	// No stray body bytes: the next response on the connection parses.
	c.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := c.read("GET"); body != "GET /echo" {
		t.Fatalf("GET after HEAD = %q", body)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	addr, _ := start(t, &Server{})
	c := dial(t, addr)
	for _, m := range []string{"BREW", "OPTIONS", "DELETE"} {
		c.send(m + " /health HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := c.read(m)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || !strings.HasPrefix(body, `{"error":`) {
			t.Fatalf("%s = %s, Allow %q, %q", m, resp.Status, resp.Header.Get("Allow"), body)
		}
	}
	// With a body the connection closes, so the body is never parsed.
	c.send("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 34\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ := c.read("POST")
	if resp.StatusCode != 405 || !resp.Close {
		t.Fatalf("POST with body = %s, close %v", resp.Status, resp.Close)
	}
	c.expectEOF(2 * time.Second)
}

func TestBodyOnGetCloses(t *testing.T) {
	addr, _ := start(t, &Server{})
	c := dial(t, addr)
	c.send("GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	resp, body := c.read("GET")
	if resp.StatusCode != 200 || body != "GET /echo" || !resp.Close {
		t.Fatalf("GET with body = %s %q close=%v", resp.Status, body, resp.Close)
	}
	c.expectEOF(2 * time.Second)
}

func TestMalformedRequests(t *testing.T) {
	addr, _ := start(t, &Server{MaxHeaderBytes: 1024})
	tests := []struct {
		name, req string
		status    int
	}{
		{"garbage", "hello\r\n\r\n", 400},
		{"tls", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400},
		{"absolute form", "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400},
		{"http/2", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501},
		{"two lengths", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", 400},
		{"long line", "GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"big head", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", 431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(tt.req)
			resp, body := c.read("GET")
			if resp.StatusCode != tt.status || !resp.Close || resp.Header.Get("Content-Type") != "application/json" ||
				!strings.HasPrefix(body, `{"error":"`) {
				t.Fatalf("got %s close=%v %q; want %d and close", resp.Status, resp.Close, body, tt.status)
			}
			c.expectEOF(2 * time.Second)
		})
	}
}

func TestHTTP10(t *testing.T) {
	addr, _ := start(t, &Server{})
	c := dial(t, addr)
	c.send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp, body := c.read("GET")
	if body != "GET /echo" || resp.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("1.0 keep-alive: %q, Connection %q", body, resp.Header.Get("Connection"))
	}
	c.send("GET /echo HTTP/1.0\r\n\r\n")
	resp, _ = c.read("GET")
	if !resp.Close {
		t.Fatal("HTTP/1.0 without keep-alive: no Connection: close")
	}
	c.expectEOF(2 * time.Second)
}

func TestPipelining(t *testing.T) {
	addr, _ := start(t, &Server{})
	c := dial(t, addr)
	c.send("GET /echo?1 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /echo?2 HTTP/1.1\r\nHost: x\r\n\r\n" +
		"\r\nGET /echo?3 HTTP/1.1\nHost: x\n\nGET /echo?4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" +
		"GET /echo?5 HTTP/1.1\r\nHost: x\r\n\r\n")
	for i, want := range []string{"GET /echo?1", "", "GET /echo?3", "GET /echo?4"} {
		method := "GET"
		if i == 1 {
			method = "HEAD"
		}
		resp, body := c.read(method)
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("response %d = %s %q; want %q", i+1, resp.Status, body, want)
		}
	}
	c.expectEOF(2 * time.Second) // the fifth request comes after Connection: close
}

func TestHandlerPanic(t *testing.T) {
	var logged atomic.Int64
	addr, _ := start(t, &Server{ErrorLog: func(string, error) { logged.Add(1) }})
	c := dial(t, addr)
	c.send("GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ := c.read("GET")
	if resp.StatusCode != 500 || !resp.Close {
		t.Fatalf("panic: %s close=%v", resp.Status, resp.Close)
	}
	c.expectEOF(2 * time.Second)
	if logged.Load() != 1 {
		t.Errorf("ErrorLog called %d times; want 1", logged.Load())
	}
	c = dial(t, addr)
	c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := c.read("GET"); resp.StatusCode != 200 {
		t.Fatalf("after panic: %s", resp.Status)
	}
}
