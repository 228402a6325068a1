package fcstandin

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// muxer is the host side of Firecracker's hybrid vsock on the vsock
// device's Unix socket: a client sends "CONNECT <port>\n"; Firecracker
// reads the first bytes at once and the rest byte by byte up to the
// newline, at most 32, and answers "OK <host port>\n" once the guest
// accepted, or closes the connection when nothing listens on that port.
type muxer struct {
	ln net.Listener

	mu       sync.Mutex
	forward  map[uint32]string
	conns    map[net.Conn]struct{}
	nextPort uint32
	wg       sync.WaitGroup
}

func newMuxer(ln net.Listener, forward map[uint32]string) *muxer {
	m := &muxer{ln: ln, forward: map[uint32]string{}, conns: map[net.Conn]struct{}{}, nextPort: 1 << 30}
	for p, a := range forward {
		m.forward[p] = a
	}
	return m
}

func (m *muxer) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			m.wg.Wait()
			return
		}
		m.track(c, true)
		m.wg.Go(func() { m.handle(c) })
	}
}

func (m *muxer) track(c net.Conn, add bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if add {
		m.conns[c] = struct{}{}
	} else {
		delete(m.conns, c)
	}
}

// handle runs one connection: the CONNECT line, then a relay to the
// guest port's TCP stand-in.
func (m *muxer) handle(c net.Conn) {
	defer func() { c.Close(); m.track(c, false) }()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	port, ok := readConnect(c)
	if !ok {
		return
	}
	m.mu.Lock()
	addr := m.forward[port]
	m.nextPort++
	hostPort := m.nextPort
	m.mu.Unlock()
	if addr == "" {
		return // nothing listens on that guest port: Firecracker closes
	}
	g, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return
	}
	m.track(g, true)
	defer func() { g.Close(); m.track(g, false) }()
	c.SetReadDeadline(time.Time{})
	if _, err := c.Write([]byte("OK " + strconv.FormatUint(uint64(hostPort), 10) + "\n")); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(g, c); g.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, g); done <- struct{}{} }()
	<-done
}

// readConnect reads "CONNECT <port>\n" as Firecracker's muxer does.
func readConnect(c net.Conn) (uint32, bool) {
	buf := make([]byte, 32)
	n, err := io.ReadAtLeast(c, buf[:10], 1)
	if err != nil {
		return 0, false
	}
	for bytes.IndexByte(buf[:n], '\n') < 0 {
		if n == len(buf) {
			return 0, false
		}
		if _, err := io.ReadFull(c, buf[n:n+1]); err != nil {
			return 0, false
		}
		n++
	}
	line := string(buf[:bytes.IndexByte(buf[:n], '\n')])
	rest, ok := cutPrefix(line, "CONNECT ")
	if !ok {
		return 0, false
	}
	p, err := strconv.ParseUint(rest, 10, 32)
	return uint32(p), err == nil
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return s, false
	}
	return s[len(prefix):], true
}

func (m *muxer) setForward(port uint32, addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if addr == "" {
		delete(m.forward, port)
	} else {
		m.forward[port] = addr
	}
}

// resetAll closes every connection, as a snapshot restore resets them.
func (m *muxer) resetAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.conns {
		c.Close()
	}
}

func (m *muxer) close() {
	m.ln.Close()
	m.resetAll()
}
