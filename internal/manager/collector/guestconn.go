package collector

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

// guestConn is a worker's own kept-alive connection to its guest agent.
// With thousands of VMs the poll itself is most of the manager's work, and
// net/http's Transport spends two goroutines, a channel handoff each way and
// a buffer pair per connection on it; a poller that asks one agent one
// question at a time needs none of that. The request is written in one
// write and the answer parsed by net/http's own http.ReadResponse, so the
// protocol handling (Content-Length, chunked bodies, Connection: close) is
// the standard library's. It belongs to the worker's goroutine.
type guestConn struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	req  []byte // the request, prepared for addr
}

// close drops the connection; the next poll dials afresh.
func (g *guestConn) close() {
	if g.conn != nil {
		g.conn.Close()
		g.conn, g.br = nil, nil
	}
}

// fetchGuestDirect gets GET /metrics from addr on the kept connection, dialling when
// there is none. A kept connection the agent has closed meanwhile (its idle
// timeout, a restart) fails on first use; the request is then retried once
// on a new connection, as net/http does for idempotent requests.
func (c *Collector) fetchGuestDirect(ctx context.Context, g *guestConn, addr string) ([]byte, *pollError) {
	if g.addr != addr {
		g.close()
		g.addr, g.req = addr, c.guestRequest(addr)
	}
	rctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	reused := g.conn != nil
	data, err := c.roundTrip(rctx, g)
	if err != nil && reused && rctx.Err() == nil && staleConn(err) {
		data, err = c.roundTrip(rctx, g)
	}
	if err != nil {
		var perr *pollError
		if errors.As(err, &perr) {
			return nil, perr
		}
		return nil, agentclient.Classify(ctx, err)
	}
	return data, nil
}

// roundTrip makes one exchange, leaving the connection open only when the
// answer was read whole and the agent keeps it alive.
func (c *Collector) roundTrip(ctx context.Context, g *guestConn) (data []byte, err error) {
	if g.conn == nil {
		conn, err := c.dial.DialContext(ctx, "tcp", g.addr)
		if err != nil {
			return nil, err
		}
		g.conn, g.br = conn, bufio.NewReaderSize(conn, 4096)
	}
	keep := false
	defer func() {
		if !keep {
			g.close()
		}
	}()
	conn := g.conn
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// Cancellation (the collector stopping) cuts the exchange short.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(g.req); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(g.br, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, c.opt.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(data)) > c.opt.MaxBody {
		return nil, failf(agentclient.ReasonTooLarge, "body exceeds %d bytes", c.opt.MaxBody)
	}
	keep = !resp.Close && stop()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, agentclient.StatusError("GET http://"+g.addr+"/metrics", resp.StatusCode, resp.Status, agentclient.ErrorMessage(data))
	}
	return data, nil
}

// guestRequest is the bytes of GET /metrics for addr.
func (c *Collector) guestRequest(addr string) []byte {
	b := []byte("GET /metrics HTTP/1.1\r\nHost: " + addr +
		"\r\nUser-Agent: fcmon-manager\r\nAccept: application/json\r\n")
	if c.opt.GuestAgentToken != "" {
		b = append(b, "Authorization: Bearer "+c.opt.GuestAgentToken+"\r\n"...)
	}
	return append(b, "\r\n"...)
}

// staleConn reports whether err is what a kept connection the peer had
// already closed gives on first use.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
