package httpconn

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func dialer(addr string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func TestKeptConnection(t *testing.T) {
	srv, conns := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(b))
	})
	c := &Conn{Dial: dialer(srv.Listener.Addr().String()), Header: []string{"Authorization: Bearer t"}}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 100 {
		r, err := c.Do(ctx, "GET", "/metrics", nil)
		if err != nil || r.Status != 200 || r.Body == nil || string(r.Body) != "GET /metrics Bearer t " {
			t.Fatalf("request %d: %+v %v", i, r, err)
		}
	}
	r, err := c.Do(ctx, "PUT", "/actions", []byte(`{"action_type":"FlushMetrics"}`))
	if err != nil || string(r.Body) != `PUT /actions Bearer t {"action_type":"FlushMetrics"}` {
		t.Fatalf("PUT: %+v %v", r, err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 101 requests, want 1", n)
	}
}

func TestServerClosesIdle(t *testing.T) {
	srv, conns := server(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	c := &Conn{Dial: dialer(srv.Listener.Addr().String())}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Do(ctx, "GET", "/", nil); err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections() // as an idle timeout or a restart would
	r, err := c.Do(ctx, "GET", "/", nil)
	if err != nil || string(r.Body) != "ok" {
		t.Fatalf("after the server closed the kept connection: %+v %v", r, err)
	}
	if conns.Load() != 2 {
		t.Errorf("%d connections, want 2", conns.Load())
	}
}

func TestLimitsAndDeadlines(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, strings.Repeat("x", 100))
		case "/slow":
			time.Sleep(2 * time.Second)
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}
	})
	c := &Conn{Dial: dialer(srv.Listener.Addr().String()), MaxBody: 10}
	defer c.Close()
	if _, err := c.Do(context.Background(), "GET", "/big", nil); !errors.Is(err, ErrTooLarge) || c.Connected() {
		t.Errorf("oversized body: %v, connected %v", err, c.Connected())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Do(ctx, "GET", "/slow", nil); err == nil || time.Since(start) > time.Second {
		t.Errorf("slow answer: %v after %v", err, time.Since(start))
	}
	if r, err := c.Do(context.Background(), "GET", "/close", nil); err != nil || string(r.Body) != "bye" || c.Connected() {
		t.Errorf("Connection: close: %+v %v, connected %v", r, err, c.Connected())
	}
}

// rawServer answers every connection with write, whatever was asked.
func rawServer(t *testing.T, write func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Read(make([]byte, 4096))
				write(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestHeadBounded: an answer whose head never ends is cut off after
// MaxHeader bytes, and one within it is read.
func TestHeadBounded(t *testing.T) {
	var sent atomic.Int64
	endless := rawServer(t, func(c net.Conn) {
		c.Write([]byte("HTTP/1.1 200 OK\r\nX-Endless: "))
		chunk := []byte(strings.Repeat("a", 4096))
		for {
			n, err := c.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	c := Conn{Dial: dialer(endless)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Do(ctx, "GET", "/", nil)
	if !errors.Is(err, ErrHeaderTooLarge) || ctx.Err() != nil {
		t.Fatalf("endless head: %v (context %v)", err, ctx.Err())
	}
	many := rawServer(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		for i := 0; i < 100000; i++ {
			if _, err := io.WriteString(c, "X-Many: a\r\n"); err != nil {
				return
			}
		}
	})
	if _, err := (&Conn{Dial: dialer(many)}).Do(ctx, "GET", "/", nil); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("endless header lines: %v", err)
	}
	big := strings.Repeat("b", 12<<10)
	within := rawServer(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+big+"\r\nContent-Length: 2\r\n\r\nok")
	})
	r, err := (&Conn{Dial: dialer(within)}).Do(ctx, "GET", "/", nil)
	if err != nil || string(r.Body) != "ok" {
		t.Errorf("a 12 KiB head: %q, %v", r.Body, err)
	}
}
