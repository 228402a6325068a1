package httpd

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"time"
)

// Seeds beyond testdata/fuzz: one of each shape the parser distinguishes.
var requestSeeds = []string{
	"GET /metrics HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nAccept: */*\r\n\r\n",
	"HEAD /health?x=%41 HTTP/1.0\nConnection: keep-alive\n\n",
	"\r\nPOST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
	"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"\x16\x03\x01\x00",
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		req, n, err := ParseRequest(buf)
		if n < 0 || n > len(buf) {
			t.Fatalf("n = %d for %d bytes", n, len(buf))
		}
		if err != nil {
			var pe *ParseError
			if n != 0 || (err != ErrIncomplete && !errors.As(err, &pe)) {
				t.Fatalf("error %v with n = %d", err, n)
			}
			if pe != nil && !slices.Contains([]int{400, 414, 431, 501, 505}, pe.Status) {
				t.Fatalf("status %d", pe.Status)
			}
			return
		}
		if n == 0 || req.Path == "" || req.Path[0] != '/' || req.Target[0] != '/' || !isToken(req.Method) {
			t.Fatalf("accepted %+v, n = %d", req, n)
		}
		// The head alone parses the same, and no shorter prefix completes it.
		again, n2, err := ParseRequest(buf[:n])
		if err != nil || again != req || n2 != n {
			t.Fatalf("reparse of the head: %+v, %d, %v", again, n2, err)
		}
		for _, k := range []int{skipEmptyLines(buf), n / 2, n - 1} {
			if _, _, err := ParseRequest(buf[:k]); err != ErrIncomplete {
				t.Fatalf("prefix of %d of %d bytes: %v; want ErrIncomplete", k, n, err)
			}
		}
	})
}

// chunkConn delivers data in pieces of the given sizes, then EOF.
type chunkConn struct {
	data   []byte
	chunks []byte
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := len(c.data)
	if len(c.chunks) > 0 {
		k = min(k, int(c.chunks[0])%16+1)
		c.chunks = c.chunks[1:]
	}
	n := copy(p, c.data[:k])
	c.data = c.data[n:]
	return n, nil
}

func (c *chunkConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *chunkConn) Close() error                     { return nil }
func (c *chunkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzReadRequest checks that the server's incremental reading, which parses
// only at chosen moments, agrees with ParseRequest on the whole input
// however the bytes are split.
func FuzzReadRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s), []byte{0, 1, 2, 3, 15})
	}
	f.Fuzz(func(t *testing.T, data, chunks []byte) {
		const maxHead = 3 * smallReadBuf // heads longer than the small buffer grow into a full one
		if len(data) >= maxHead {
			return
		}
		s := &Server{MaxHeaderBytes: maxHead}
		c := &conn{srv: s, nc: &chunkConn{data: data, chunks: chunks}}
		c.buf = s.getReadBuf(false)
		got, gotErr := c.readRequest()
		want, n, wantErr := ParseRequest(data)
		if wantErr == ErrIncomplete {
			if gotErr != io.EOF {
				t.Fatalf("incomplete input: readRequest = %+v, %v; want EOF", got, gotErr)
			}
			return
		}
		if got != want || !sameStatus(gotErr, wantErr) {
			t.Fatalf("readRequest = %+v, %v; ParseRequest = %+v, %v", got, gotErr, want, wantErr)
		}
		if wantErr == nil {
			rest := data[n:]
			if !bytes.Equal((*c.buf)[:c.n], rest[:min(len(rest), c.n)]) {
				t.Fatalf("left %q buffered; input after the head is %q", (*c.buf)[:c.n], rest)
			}
		}
	})
}

func sameStatus(a, b error) bool {
	var pa, pb *ParseError
	if errors.As(a, &pa) != errors.As(b, &pb) {
		return false
	}
	return pa == nil || pa.Status == pb.Status
}

func FuzzPreferredType(f *testing.F) {
	for _, s := range []string{"*/*", "", "application/json", "text/plain;q=0.5, */*;q=0.1",
		"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,*/*;q=0.2",
		"text/*;q=0, application/*;q=0.001", "garbage,,;q=", "*/*;q=1.0000"} {
		f.Add(s)
	}
	offers := []string{jsonType, textType, omType}
	f.Fuzz(func(t *testing.T, accept string) {
		got := PreferredType(accept, offers...)
		if got != "" && !slices.Contains(offers, got) {
			t.Fatalf("PreferredType(%q) = %q, not an offer", accept, got)
		}
		if accept == "" && got != jsonType {
			t.Fatalf("empty Accept gave %q", got)
		}
		// Reordering offers never changes which types are acceptable.
		if rev := PreferredType(accept, omType, textType, jsonType); (rev == "") != (got == "") {
			t.Fatalf("PreferredType(%q): %q forward, %q reversed", accept, got, rev)
		}
		if PreferredType(accept) != "" {
			t.Fatal("no offers gave a result")
		}
	})
}
