package fcstandin

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// muxer is the host side of Firecracker's hybrid vsock on the vsock
// device's Unix socket (VsockMuxer, src/vmm/src/devices/virtio/vsock/unix/muxer.rs):
// a client sends "CONNECT <port>\n"; Firecracker reads 10 bytes, then one at
// a time up to the newline, at most 32 in all, and answers
// "OK <local port>\n" once the guest accepted — local ports allocated from
// 1<<30 up — or closes the connection when nothing listens on that port.
type muxer struct {
	ln net.Listener

	mu       sync.Mutex
	forward  map[uint32]string
	conns    map[net.Conn]struct{}
	nextPort uint32
	wg       sync.WaitGroup
}

func newMuxer(ln net.Listener, forward map[uint32]string) *muxer {
	m := &muxer{ln: ln, forward: map[uint32]string{}, conns: map[net.Conn]struct{}{}, nextPort: 1<<30 - 1}
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
	// allocate_local_port (muxer.rs:590): round robin within [1<<30, 1<<31).
	m.nextPort = (m.nextPort+1)&^(1<<31) | 1<<30
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

// readConnect reads a connection request as read_local_stream_port
// (muxer.rs:427) does: exactly 10 bytes, then one at a time until a
// newline or 32 bytes; then, as UTF-8 split on white space, the word
// "connect" in any case and a port that parses as a u32; what follows the
// port is not looked at.
func readConnect(c net.Conn) (uint32, bool) {
	buf := make([]byte, 32)
	if _, err := io.ReadFull(c, buf[:10]); err != nil {
		return 0, false
	}
	n := 10
	for buf[n-1] != '\n' && n < len(buf) {
		if _, err := io.ReadFull(c, buf[n:n+1]); err != nil {
			return 0, false
		}
		n++
	}
	if !utf8.Valid(buf[:n]) {
		return 0, false
	}
	words := strings.Fields(string(buf[:n]))
	if len(words) < 2 || strings.ToLower(words[0]) != "connect" {
		return 0, false
	}
	// Rust's u32::from_str takes one leading '+'; Go's ParseUint none.
	p, err := strconv.ParseUint(strings.TrimPrefix(words[1], "+"), 10, 32)
	return uint32(p), err == nil
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
