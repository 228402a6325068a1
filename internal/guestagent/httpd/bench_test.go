package httpd

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

func BenchmarkParseRequest(b *testing.B) {
	buf := []byte("GET /metrics HTTP/1.1\r\nHost: 10.0.0.2:8080\r\nUser-Agent: Prometheus/3.0.0\r\n" +
		"Accept: application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.3,*/*;q=0.2\r\n" +
		"Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n")
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRequest(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreferredType(b *testing.B) {
	accept := "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6," +
		"application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4," +
		"text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
	b.ReportAllocs()
	for b.Loop() {
		PreferredType(accept, jsonType, textType)
	}
}

// BenchmarkServeKeepAlive measures sequential requests over one loopback
// keep-alive connection; allocs/op include the client's side.
func BenchmarkServeKeepAlive(b *testing.B) {
	body := []byte(`{"cpu_usage_percent":45.2,"memory_usage_percent":62.5,"memory_used_kb":512000}`)
	s := &Server{Handler: func(*Request) Response {
		return Response{ContentType: "application/json", Body: body}
	}}
	addr, _ := start(b, s)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n")
	r := bufio.NewReader(c)
	want := "Content-Length: " + strconv.Itoa(len(body))
	b.ReportAllocs()
	begin := time.Now()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readResponse(r, want, len(body)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "req/s")
}

// readResponse reads a head that has the wanted line, then n body bytes.
func readResponse(r *bufio.Reader, want string, n int) error {
	found := false
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 2 {
			break
		}
		found = found || string(line[:len(line)-2]) == want
	}
	if !found {
		return io.ErrUnexpectedEOF
	}
	_, err := r.Discard(n)
	return err
}
