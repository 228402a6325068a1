package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// process is one running instance of a program under test.
type process struct {
	cmd  *exec.Cmd
	addr string
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) stop() { p.cmd.Process.Kill(); p.cmd.Wait() }

var servingRe = regexp.MustCompile(`msg=serving addr=(\S+)`)

func startAgent(bin string) (*process, error) {
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--interval", "1s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return &process{cmd: cmd, addr: m[1]}, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, fmt.Errorf("%s exited before serving", bin)
}

// startNodeExporter runs node_exporter with its defaults on a free
// loopback port and waits until it accepts connections.
func startNodeExporter(bin string) (*process, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--web.listen-address="+addr)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, addr: addr}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return p, nil
		}
	}
	p.stop()
	return nil, fmt.Errorf("%s not listening on %s after 20s", bin, addr)
}

// load sends up to total requests over conns keep-alive connections, for at
// most maxDur, and returns each request's latency and the rate achieved.
func load(addr string, conns, total int, maxDur time.Duration) ([]time.Duration, float64, error) {
	per := total / conns
	lat := make([][]time.Duration, conns)
	errs := make([]error, conns)
	start := time.Now()
	deadline := start.Add(maxDur)
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() { lat[c], errs[c] = client(addr, per, deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for c := range conns {
		if errs[c] != nil {
			return nil, 0, errs[c]
		}
		all = append(all, lat[c]...)
	}
	return all, float64(len(all)) / elapsed.Seconds(), nil
}

func client(addr string, n int, deadline time.Time) ([]time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(deadline.Add(30 * time.Second))
	r := bufio.NewReaderSize(conn, 64<<10)
	lat := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if t.After(deadline) {
			break
		}
		if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
			return nil, err
		}
		if err := readResponse(r); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t))
	}
	return lat, nil
}

// readResponse reads one response and discards its body, whether it has a
// Content-Length (the guest agent) or is chunked (node_exporter).
func readResponse(r *bufio.Reader) error {
	length, chunked := -1, false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			length, _ = strconv.Atoi(value)
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		}
	}
	switch {
	case chunked:
		if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(r)); err != nil {
			return err
		}
		for { // trailers, up to the blank line that ends the response
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if line == "\r\n" {
				return nil
			}
		}
	case length >= 0:
		_, err := r.Discard(length)
		return err
	}
	return errors.New("response with neither Content-Length nor chunked encoding")
}
