package firecracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"
)

// maxOKLine bounds Firecracker's answer to CONNECT: "OK " and a 32-bit
// port number and a newline.
const maxOKLine = 32

// ErrVsockRefused is returned when Firecracker closes the connection
// instead of answering OK: nothing listens on that port in the guest (yet).
var ErrVsockRefused = errors.New("vsock: the guest port refused the connection")

// DialVsock connects to the guest's vsock port through Firecracker's
// hybrid vsock: the VM's Unix socket (which dial reaches), a "CONNECT <port>\n" sent in
// one write (Firecracker's muxer reads the first 10 bytes at once, then byte
// by byte up to the newline), and the "OK <host port>\n" line read byte by
// byte, so not one byte of what the guest sends next is swallowed. The
// context's deadline bounds every step; the connection returned has none.
func DialVsock(ctx context.Context, dial Dialer, port uint32) (net.Conn, error) {
	conn, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := handshake(conn, port); err != nil {
		conn.Close()
		return nil, err
	}
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

func handshake(conn net.Conn, port uint32) error {
	if _, err := conn.Write([]byte("CONNECT " + strconv.FormatUint(uint64(port), 10) + "\n")); err != nil {
		return fmt.Errorf("vsock CONNECT %d: %w", port, err)
	}
	line, err := readLine(conn)
	if err != nil {
		if errors.Is(err, errClosed) {
			return fmt.Errorf("%w (port %d)", ErrVsockRefused, port)
		}
		return fmt.Errorf("vsock CONNECT %d: %w", port, err)
	}
	if _, err := ParseOK(line); err != nil {
		return fmt.Errorf("vsock CONNECT %d: %w", port, err)
	}
	return nil
}

var errClosed = errors.New("closed before answering")

// readLine reads up to and including '\n', one byte per read, at most
// maxOKLine bytes.
func readLine(conn net.Conn) ([]byte, error) {
	var buf [maxOKLine]byte
	for n := 0; n < len(buf); n++ {
		if _, err := conn.Read(buf[n : n+1]); err != nil {
			if n == 0 && isEOF(err) {
				return nil, errClosed
			}
			return nil, err
		}
		if buf[n] == '\n' {
			return buf[:n+1], nil
		}
	}
	return nil, fmt.Errorf("answer exceeds %d bytes without a newline", maxOKLine)
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// ParseOK parses Firecracker's answer to CONNECT, "OK <port>\n", and
// returns the host-side port it names.
func ParseOK(line []byte) (uint32, error) {
	s := string(line)
	if len(s) < 5 || s[:3] != "OK " || s[len(s)-1] != '\n' {
		return 0, fmt.Errorf("answer %q is not \"OK <port>\\n\"", s)
	}
	p, err := strconv.ParseUint(s[3:len(s)-1], 10, 32)
	if err != nil || s[3] == '+' || s[3] == '-' {
		return 0, fmt.Errorf("answer %q does not name a port", s)
	}
	return uint32(p), nil
}
