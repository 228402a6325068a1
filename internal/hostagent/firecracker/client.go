package firecracker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds one API call when NewClient is given no timeout.
// Firecracker answers FlushMetrics in microseconds; a call that takes longer
// than this finds a VMM that is stuck or gone.
const DefaultTimeout = 2 * time.Second

// flushBody is the request body of FlushMetrics, byte for byte as
// Firecracker's API documents it.
const flushBody = `{"action_type":"FlushMetrics"}`

// Client talks to one Firecracker API socket. It holds at most one idle
// connection and is safe for concurrent use.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the API socket at socketPath. Each call is
// bounded by timeout; zero means DefaultTimeout.
func NewClient(socketPath string, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:          1,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
	}
	return &Client{socket: socketPath, http: &http.Client{Transport: tr, Timeout: timeout}}
}

// Socket returns the path of the API socket.
func (c *Client) Socket() string { return c.socket }

// Close releases the idle connection.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// FlushMetrics asks Firecracker to write a metrics line now
// (PUT /actions {"action_type":"FlushMetrics"}). Firecracker answers 204;
// before the VM has booted it refuses with 400 and a fault_message, which
// the returned error carries.
func (c *Client) FlushMetrics(ctx context.Context) error {
	return c.put(ctx, "/actions", flushBody)
}

func (c *Client) put(ctx context.Context, path, body string) error {
	// The host part is ignored by the dialer; Firecracker ignores Host.
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://localhost"+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s on %s: %w", path, c.socket, unwrapURLError(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return fmt.Errorf("PUT %s on %s: %s: %s", path, c.socket, resp.Status, faultMessage(msg))
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
	return string(body)
}

// unwrapURLError drops net/http's `Put "http://localhost/actions":` prefix,
// which names a URL the user never gave.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
