package vmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ExitError reports a guest command that ran to completion with a non-zero exit status.
type ExitError struct {
	Command string
	Status  int
	Output  string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("guest command %q exited with status %d: %s", e.Command, e.Status, e.Output)
}

// Markers delimit each command's output on the console. The record separator byte never
// appears in the typed command (it is written as the escape \036 for printf), so neither
// an echo of the command nor the command text can be mistaken for its output.
const (
	markerByte  = '\x1e'
	readyMarker = "\x1eVMTEST-READY\x1e"
)

// console is the guest's serial console, reached through QEMU's Unix socket. The guest
// runs one shell on it; commands are written one at a time and delimited by markers.
type console struct {
	path string

	cmdMu sync.Mutex // held for a whole command, so commands never interleave
	seq   int

	mu      sync.Mutex // guards everything below
	conn    net.Conn
	out     []byte        // everything read from the console since boot
	changed chan struct{} // closed and replaced whenever out grows or the conn drops
}

func newConsole(path string) *console {
	return &console{path: path, changed: make(chan struct{})}
}

// connect dials the console socket unless already connected.
func (c *console) connect(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return nil
	}
	// QEMU binds the socket (so it exists) a moment before it listens on
	// it; until then a dial is refused.
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	for errors.Is(err, syscall.ECONNREFUSED) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
		conn, err = d.DialContext(ctx, "unix", c.path)
	}
	if err != nil {
		return fmt.Errorf("connecting to the guest console: %w", err)
	}
	c.conn = conn
	go c.read(conn)
	return nil
}

// read copies the console output into c.out until conn is closed.
func (c *console) read(conn net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		c.mu.Lock()
		c.out = append(c.out, buf[:n]...)
		if err != nil && c.conn == conn {
			c.conn = nil
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		if err != nil {
			conn.Close()
			return
		}
	}
}

// release closes the connection so another client (such as socat) can use the socket.
func (c *console) release() {
	c.mu.Lock()
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// waitFor waits until match reports true for the output past offset from.
func (c *console) waitFor(ctx context.Context, from int, match func([]byte) bool) error {
	for {
		c.mu.Lock()
		out, changed := c.out[from:], c.changed
		ok := match(out)
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitReady waits for the marker /init prints once the console shell is running.
func (c *console) waitReady(ctx context.Context) error {
	return c.waitFor(ctx, 0, func(b []byte) bool {
		return bytes.Contains(b, []byte(readyMarker))
	})
}

// tail returns the last n bytes of the console output, for failure messages.
func (c *console) tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out) > n {
		return string(c.out[len(c.out)-n:])
	}
	return string(c.out)
}

// run executes cmd in the guest shell and returns its combined output and exit status.
func (c *console) run(ctx context.Context, cmd string) (string, int, error) {
	c.cmdMu.Lock()
	defer c.cmdMu.Unlock()
	if err := c.connect(ctx); err != nil {
		return "", -1, err
	}
	c.seq++
	id := strconv.Itoa(c.seq)
	// The command runs in a subshell with stdin from /dev/null so it can neither read
	// the following commands nor end the console shell with exit.
	script := "printf '\\036B" + id + "\\036\\n'\n(\n" + cmd + "\n) </dev/null 2>&1\n" +
		"printf '\\036E" + id + ":%d\\036\\n' $?\n"

	c.mu.Lock()
	from, conn := len(c.out), c.conn
	c.mu.Unlock()
	if conn == nil {
		return "", -1, errors.New("guest console disconnected")
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	_ = conn.SetWriteDeadline(deadline)
	if _, err := conn.Write([]byte(script)); err != nil {
		return "", -1, fmt.Errorf("writing to the guest console: %w", err)
	}

	var out string
	status := -1
	err := c.waitFor(ctx, from, func(b []byte) bool {
		var ok bool
		out, status, ok = parseReply(b, id)
		return ok
	})
	if err != nil {
		return "", -1, fmt.Errorf("guest command %q: %w", cmd, err)
	}
	return out, status, nil
}

// parseReply finds the output of command id in b: the text between its begin marker
// and its end marker, and the exit status the end marker carries (-1 if unreadable).
// ok is false while the end marker has not arrived completely.
func parseReply(b []byte, id string) (out string, status int, ok bool) {
	begin := []byte("\x1eB" + id + "\x1e\n")
	end := []byte("\x1eE" + id + ":")
	i := bytes.Index(b, begin)
	if i < 0 {
		return "", 0, false
	}
	body := b[i+len(begin):]
	j := bytes.Index(body, end)
	if j < 0 {
		return "", 0, false
	}
	rest := body[j+len(end):]
	k := bytes.IndexByte(rest, markerByte)
	if k < 0 {
		return "", 0, false
	}
	status, err := strconv.Atoi(string(rest[:k]))
	if err != nil {
		status = -1
	}
	return string(body[:j]), status, true
}
