package firecracker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpconn"
)

// DefaultTimeout bounds one API call when NewClient is given no timeout.
// Firecracker answers in microseconds; a call that takes longer than this
// finds a VMM that is stuck or gone.
const DefaultTimeout = 2 * time.Second

// flushBody is the request body of FlushMetrics, byte for byte as
// Firecracker's API documents it.
const flushBody = `{"action_type":"FlushMetrics"}`

// Client talks to one Firecracker API socket over one kept-alive
// connection. It is safe for concurrent use; calls take turns.
type Client struct {
	socket  string
	timeout time.Duration

	mu   sync.Mutex
	conn httpconn.Conn
}

// Dialer connects to a Unix socket; the context bounds it.
type Dialer func(ctx context.Context) (net.Conn, error)

// Unix dials the socket at path as it stands, for sockets the agent need
// not check (tests; vmpath.Root.Dial is the checked dialer).
func Unix(path string) Dialer {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
}

// NewClient returns a client for the API socket that dial reaches, named
// socket in errors. Each call is bounded by timeout; zero means
// DefaultTimeout.
func NewClient(socket string, dial Dialer, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c := &Client{socket: socket, timeout: timeout}
	c.conn = httpconn.Conn{Dial: dial, MaxBody: 1 << 20}
	return c
}

// Socket returns the path of the API socket.
func (c *Client) Socket() string { return c.socket }

// Close releases the connection.
func (c *Client) Close() {
	c.mu.Lock()
	c.conn.Close()
	c.mu.Unlock()
}

// FlushMetrics asks Firecracker to write a metrics line now
// (PUT /actions {"action_type":"FlushMetrics"}). Firecracker answers 204;
// before the VM has booted it refuses with 400 and a fault_message, which
// the returned error carries.
func (c *Client) FlushMetrics(ctx context.Context) error {
	_, err := c.call(ctx, "PUT", "/actions", []byte(flushBody))
	return err
}

// InstanceInfo asks GET /: the instance's id, state and version.
func (c *Client) InstanceInfo(ctx context.Context) (InstanceInfo, error) {
	var v InstanceInfo
	return v, c.get(ctx, "/", &v)
}

// VMConfig asks GET /vm/config: the VM's whole configuration.
func (c *Client) VMConfig(ctx context.Context) (VMConfig, error) {
	var v VMConfig
	return v, c.get(ctx, "/vm/config", &v)
}

// BalloonStats asks GET /balloon/statistics: the guest's memory as its
// balloon driver reports it. Firecracker answers 400 when the VM has no
// balloon or its statistics are off.
func (c *Client) BalloonStats(ctx context.Context) (BalloonStats, error) {
	var v BalloonStats
	return v, c.get(ctx, "/balloon/statistics", &v)
}

// MMDS asks GET /mmds: the metadata the launcher put for the guest, which
// the guest reads and cannot write. Firecracker answers 400 after boot for
// a VM that never had a data store.
func (c *Client) MMDS(ctx context.Context) ([]byte, error) {
	return c.call(ctx, "GET", "/mmds", nil)
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	body, err := c.call(ctx, "GET", path, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s on %s: decoding the answer: %w", path, c.socket, err)
	}
	return nil
}

// call makes one request, bounded by the client's timeout, and returns the
// body of a 2xx answer; any other answer is an error carrying
// Firecracker's fault_message.
func (c *Client) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	c.mu.Lock()
	r, err := c.conn.Do(ctx, method, path, body)
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s %s on %s: %w", method, path, c.socket, err)
	}
	if r.Status/100 != 2 {
		return nil, &APIError{Method: method, Path: path, Socket: c.socket, Status: r.Status, Fault: faultMessage(r.Body)}
	}
	return r.Body, nil
}

// APIError is Firecracker's answer other than 2xx.
type APIError struct {
	Method, Path, Socket string
	Status               int
	Fault                string // its fault_message, or the body as text
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s on %s: %d %s: %s", e.Method, e.Path, e.Socket, e.Status, http.StatusText(e.Status), e.Fault)
}

// faultMessage extracts Firecracker's {"fault_message": "..."} or returns
// the body as text.
func faultMessage(body []byte) string {
	var f struct {
		FaultMessage string `json:"fault_message"`
	}
	if json.Unmarshal(body, &f) == nil && f.FaultMessage != "" {
		return f.FaultMessage
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "no message"
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return string(body)
}
