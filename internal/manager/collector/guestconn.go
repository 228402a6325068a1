package collector

import (
	"context"
	"errors"
	"net"

	"github.com/fcmon/fcmon/internal/core/httpconn"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

// guestConn is a worker's own kept-alive connection to its guest agent:
// with thousands of VMs the poll itself is most of the manager's work, and
// a kept connection with no Transport machinery is what makes it cheap
// (see httpconn). It belongs to the worker's goroutine.
type guestConn struct {
	addr string
	c    httpconn.Conn
}

// close drops the connection; the next poll dials afresh.
func (g *guestConn) close() { g.c.Close() }

// fetchGuestDirect gets GET /metrics from addr on the kept connection,
// dialling (only inside --guest-allow-cidrs) when there is none.
func (c *Collector) fetchGuestDirect(ctx context.Context, g *guestConn, addr string) ([]byte, *pollError) {
	if g.addr != addr {
		g.close()
		g.addr = addr
		g.c = httpconn.Conn{
			Dial:    func(ctx context.Context) (net.Conn, error) { return c.dial.DialContext(ctx, "tcp", addr) },
			Host:    addr,
			Header:  c.guestHeader(),
			MaxBody: c.opt.MaxBody,
		}
	}
	rctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	r, err := g.c.Do(rctx, "GET", "/metrics", nil)
	switch {
	case errors.Is(err, httpconn.ErrTooLarge):
		return nil, failf(agentclient.ReasonTooLarge, "body exceeds %d bytes", c.opt.MaxBody)
	case err != nil:
		return nil, agentclient.Classify(ctx, err)
	case r.Status < 200 || r.Status > 299:
		return nil, agentclient.StatusError("GET http://"+addr+"/metrics", r.Status, statusText(r.Status), agentclient.ErrorMessage(r.Body))
	}
	return r.Body, nil
}

// guestHeader is what every request to a guest agent carries.
func (c *Collector) guestHeader() []string {
	h := []string{"User-Agent: fcmon-manager"}
	if c.opt.GuestAgentToken != "" {
		h = append(h, "Authorization: Bearer "+c.opt.GuestAgentToken)
	}
	return h
}
