package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// ServeVM upgrades the request to a WebSocket and streams every sample of
// vmID published from then on, one JSON wire.CombinedSample per text
// message, until the client leaves, falls behind or the hub closes. It
// returns when the connection is over. The caller has authenticated the
// request and checked that the VM exists; the hub checks only the Origin.
func (h *Hub) ServeVM(w http.ResponseWriter, r *http.Request, vmID string) {
	h.serve(w, r, &client{vmID: vmID, kind: "vm"})
}

// ServeAll is ServeVM for the samples of every VM that keep takes (nil:
// all), with their events.
func (h *Hub) ServeAll(w http.ResponseWriter, r *http.Request, keep func(vmID string) bool) {
	h.serve(w, r, &client{all: true, kind: "all-vm", keep: keep})
}

// ServeFleet upgrades the request to the fleet stream: every fleet
// summary (PublishFleet) and event, and the samples of the VMs the client
// watches. The client chooses those by sending wire.WatchRequest messages,
// {"watch": [id, ...]} with at most wire.MaxWatch ids, each replacing the
// set before; a message that is not one is answered with
// {"kind":"error","error":"..."} and changes nothing. The client sees the
// VMs sel picks only, whose ids keep takes: the summaries of that
// selection (PublishFleetOf), their events, and only those watched ids
// keep takes.
func (h *Hub) ServeFleet(w http.ResponseWriter, r *http.Request, sel labels.Selector, keep func(vmID string) bool) {
	h.serve(w, r, &client{fleet: true, kind: "fleet", sel: sel, selKey: sel.String(), keep: keep})
}

// client is one connection's state shared with Publish and Close.
type client struct {
	vmID   string // "" for all-VM and fleet clients
	all    bool
	fleet  bool
	kind   string // "vm", "all-vm" or "fleet", for logs and close reasons
	remote string
	queue  chan []byte

	once   sync.Once
	kicked chan struct{} // closed by kick; code and reason are set before
	code   websocket.StatusCode
	reason string

	watching map[string]struct{} // fleet clients: the VMs watched, under Hub.mu

	// keep picks the VMs the client may see (nil: all); sel is a fleet
	// client's selection, selKey its String.
	keep   func(vmID string) bool
	sel    labels.Selector
	selKey string
}

// sees reports whether c may see the VM.
func (c *client) sees(vmID string) bool { return c.keep == nil || c.keep(vmID) }

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
	if c.fleet { // up to wire.MaxWatch samples an interval, with events
		c.queue = make(chan []byte, 2*h.opt.AllBuffer)
	}
	// Cancelling cut cuts the connection without a handshake: CloseRead's
	// reader, reading under this context, closes it. The peer sends nothing
	// but control frames; reading them in the background answers pings and
	// notices a close or a lost connection (peerGone is then done).
	cut, cancelCut := context.WithCancel(context.Background())
	defer cancelCut()
	if !h.add(c) {
		_ = conn.CloseRead(cut)
		h.closeConn(conn, cancelCut, websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer h.remove(c)
	var peerGone context.Context
	if c.fleet {
		peerGone = h.readWatches(cut, conn, c)
	} else {
		peerGone = conn.CloseRead(cut)
	}
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

// maxWatchMessage bounds a message from a fleet client: wire.MaxWatch ids
// of up to 64 bytes, quoted, with commas.
const maxWatchMessage = wire.MaxWatch*68 + 64

// readWatches reads a fleet client's watch requests until the connection
// ends; the context it returns is done then. Control frames are answered
// as CloseRead's reader would.
func (h *Hub) readWatches(cut context.Context, conn *websocket.Conn, c *client) context.Context {
	conn.SetReadLimit(maxWatchMessage)
	ctx, cancel := context.WithCancel(cut)
	go func() {
		defer cancel()
		closing := false
		for {
			typ, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if closing {
				continue // the close handshake is under way
			}
			if typ == websocket.MessageText && !utf8.Valid(data) {
				// RFC 6455 7.4.1: data inconsistent with the message's type.
				closing = true
				c.kick(websocket.StatusInvalidFramePayloadData, "a text message that is not valid UTF-8")
				continue
			}
			ids, problem := parseWatch(typ, data)
			if problem != "" {
				msg, _ := json.Marshal(map[string]string{"kind": "error", "error": problem})
				h.offer(c, msg)
				continue
			}
			h.watch(c, ids)
		}
	}()
	return ctx
}

// parseWatch checks a watch request; problem says what is wrong with it.
func parseWatch(typ websocket.MessageType, data []byte) (ids []string, problem string) {
	if typ != websocket.MessageText {
		return nil, `expected a text message {"watch": ["vm id", ...]}`
	}
	var req wire.WatchRequest
	if err := httpapi.DecodeStrict(data, &req); err != nil {
		return nil, `expected {"watch": ["vm id", ...]}: ` + strings.Replace(err.Error(), "request body", "the message", 1)
	}
	if len(req.Watch) > wire.MaxWatch {
		return nil, fmt.Sprintf("watch lists %d VMs; at most %d", len(req.Watch), wire.MaxWatch)
	}
	for _, id := range req.Watch {
		if id == "" || len(id) > 64 {
			return nil, "watch holds an id that is empty or longer than 64 bytes"
		}
	}
	return req.Watch, ""
}
