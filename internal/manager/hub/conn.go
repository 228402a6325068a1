package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// ServeVM upgrades the request to a WebSocket and streams every sample of
// vmID published from then on, one JSON wire.CombinedSample per text
// message, until the client leaves, falls behind or the hub closes. It
// returns when the connection is over. The caller has authenticated the
// request and checked that the VM exists; the hub checks only the Origin.
func (h *Hub) ServeVM(w http.ResponseWriter, r *http.Request, vmID string) {
	h.serve(w, r, &client{vmID: vmID, kind: "vm"})
}

// ServeAll is ServeVM for the samples of every VM.
func (h *Hub) ServeAll(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, &client{all: true, kind: "all-vm"})
}

// client is one connection's state shared with Publish and Close.
type client struct {
	vmID   string // "" for all-VM clients
	all    bool
	kind   string // "vm" or "all-vm", for logs and close reasons
	remote string
	queue  chan []byte

	once   sync.Once
	kicked chan struct{} // closed by kick; code and reason are set before
	code   websocket.StatusCode
	reason string
}

// kick asks c's goroutine to close the connection with code and reason;
// it reports whether this call was the first, so a drop is counted once.
func (c *client) kick(code websocket.StatusCode, reason string) bool {
	first := false
	c.once.Do(func() {
		c.code, c.reason, first = code, reason, true
		close(c.kicked)
	})
	return first
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request, c *client) {
	if refusal := h.begin(); refusal != "" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": refusal})
		return
	}
	defer h.done()
	bw := &batchingResponse{ResponseWriter: w, timeout: h.opt.WriteTimeout}
	conn, err := websocket.Accept(bw, r, &websocket.AcceptOptions{
		OriginPatterns: h.opt.OriginPatterns,
		Subprotocols:   h.opt.Subprotocols,
	})
	if err != nil { // Accept has answered with a 4xx
		h.log.Debug("refusing websocket upgrade", "remote", r.RemoteAddr, "err", err)
		return
	}
	c.remote = r.RemoteAddr
	c.kicked = make(chan struct{})
	c.queue = make(chan []byte, h.opt.Buffer)
	if c.all {
		c.queue = make(chan []byte, h.opt.AllBuffer)
	}
	// Cancelling cut cuts the connection without a handshake: CloseRead's
	// reader, reading under this context, closes it. The peer sends nothing
	// but control frames; reading them in the background answers pings and
	// notices a close or a lost connection (peerGone is then done).
	cut, cancelCut := context.WithCancel(context.Background())
	defer cancelCut()
	peerGone := conn.CloseRead(cut)
	if !h.add(c) {
		h.closeConn(conn, cancelCut, websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer h.remove(c)
	h.log.Debug("websocket client connected", "remote", c.remote, "stream", c.kind, "vm_id", c.vmID)
	err = h.stream(conn, bw.conn, c, peerGone, cancelCut)
	h.log.Debug("websocket client gone", "remote", c.remote, "stream", c.kind, "vm_id", c.vmID, "why", err)
}

// stream writes c's queue to conn until the connection ends, and returns
// why it ended. Every goroutine it starts has ended when it returns.
func (h *Hub) stream(conn *websocket.Conn, bc *batchConn, c *client, peerGone context.Context, cut context.CancelFunc) error {
	ping := time.NewTicker(h.opt.PingInterval)
	defer ping.Stop()
	pong := make(chan error, 1)
	pinging := false
	defer func() {
		if pinging { // the connection is closed by now, so this is quick
			<-pong
		}
	}()

	for {
		select {
		case msg := <-c.queue:
			if err := h.writeQueued(conn, bc, c, msg, peerGone); err != nil {
				_ = conn.CloseNow()
				return err
			}
		case <-ping.C:
			if !pinging {
				pinging = true
				go func() {
					ctx, cancel := context.WithTimeout(peerGone, h.opt.WriteTimeout)
					defer cancel()
					pong <- conn.Ping(ctx)
				}()
			}
		case err := <-pong:
			pinging = false
			if err != nil {
				_ = conn.CloseNow()
				return err
			}
		case <-peerGone.Done():
			_ = conn.CloseNow()
			return errors.New("peer closed the connection")
		case <-c.kicked:
			h.closeConn(conn, cut, c.code, c.reason)
			return errors.New(c.reason)
		}
	}
}

// writeQueued writes msg and whatever else c has queued, up to maxBatch
// messages. With bc the frames are collected and go out in one write that
// bc bounds by WriteTimeout, so the library's writes, which then only fill
// memory, get a context without a deadline: a deadline costs a timer per
// message, a fifth of the manager's CPU when streaming to many clients.
// A failed write has closed the connection.
func (h *Hub) writeQueued(conn *websocket.Conn, bc *batchConn, c *client, msg []byte, peerGone context.Context) error {
	if bc == nil { // Accept did not hijack through batchingResponse
		ctx, cancel := context.WithTimeout(peerGone, h.opt.WriteTimeout)
		defer cancel()
		return conn.Write(ctx, websocket.MessageText, msg)
	}
	ctx := context.WithoutCancel(peerGone)
	bc.begin()
	err := conn.Write(ctx, websocket.MessageText, msg)
	for n := 1; err == nil && n < maxBatch; n++ {
		select {
		case m := <-c.queue:
			err = conn.Write(ctx, websocket.MessageText, m)
			continue
		default:
		}
		break
	}
	if e := bc.end(); err == nil {
		err = e
	}
	return err
}

// closeConn closes conn with a close handshake bounded by CloseGrace: a
// peer that does not answer (it does not read, or it is gone) is cut off by
// cancelling cut, the context conn's background reader runs under.
// (conn.CloseNow cannot do that: it waits for a Close in progress.)
func (h *Hub) closeConn(conn *websocket.Conn, cut context.CancelFunc, code websocket.StatusCode, reason string) {
	t := time.AfterFunc(h.opt.CloseGrace, cut)
	defer t.Stop()
	_ = conn.Close(code, reason)
}
