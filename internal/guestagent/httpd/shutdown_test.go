package httpd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	s := &Server{Handler: testHandler(release)}
	l, err := sock.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()

	idle := dial(t, l.Addr())
	idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	idle.read("GET")
	active := dial(t, l.Addr())
	active.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond) // let the handler start

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	idle.expectEOF(time.Second)
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a request was active", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	resp, body := active.read("GET")
	if body != "released" || !resp.Close {
		t.Fatalf("active request: %q close=%v; want its answer with Connection: close", body, resp.Close)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown did not return after the active request ended")
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve = %v; want ErrServerClosed", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := sock.Listen(l.Addr()); err != nil {
		t.Fatalf("listener not closed: %v", err)
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown = %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := &Server{Handler: testHandler(release)}
	l, err := sock.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	c := dial(t, l.Addr())
	c.send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v; want context.DeadlineExceeded", err)
	}
	s.Close()
	c.expectEOF(time.Second)
}

func TestServeSeveralListeners(t *testing.T) {
	s := &Server{Handler: testHandler(nil)}
	var addrs []string
	done := make(chan error, 2)
	for i := 0; i < 2; i++ {
		l, err := sock.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr())
		go func() { done <- s.Serve(l) }()
	}
	for _, a := range addrs {
		c := dial(t, a)
		c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.read("GET"); resp.StatusCode != 200 {
			t.Fatalf("%s: %s", a, resp.Status)
		}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve = %v", err)
		}
	}
}
