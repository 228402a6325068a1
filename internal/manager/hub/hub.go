// Package hub streams the manager's live samples to WebSocket clients: one
// stream per VM and one of every VM. Publishing never blocks: each client has
// its own bounded queue, and a client that lets it fill up is dropped rather
// than slowing the collector or the other clients.
package hub

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// Options configures a Hub. The zero value is usable.
type Options struct {
	// Buffer is how many messages a per-VM client may have queued before it
	// is dropped as too slow; default 64 (a minute of 1-second samples).
	Buffer int
	// AllBuffer is the same for all-VM clients, which receive one message
	// per VM per poll interval; default 1024.
	AllBuffer int
	// WriteTimeout bounds the write of one message and the wait for the
	// answer to a ping; a client that misses it is disconnected. Default 5s.
	WriteTimeout time.Duration
	// PingInterval is how often an idle-looking peer is pinged to find dead
	// connections; default 30s.
	PingInterval time.Duration
	// CloseGrace bounds the close handshake with a departing client (one
	// dropped as slow, or every client on Close); after it the connection is
	// cut. Default 1s.
	CloseGrace time.Duration
	// OriginPatterns lists the hosts (path.Match patterns, optionally with a
	// scheme, as websocket.AcceptOptions has them) whose pages may open a
	// stream besides the manager's own origin. Empty means same origin only;
	// requests without an Origin header (non-browser clients) always pass.
	OriginPatterns []string
	// Subprotocols are the WebSocket subprotocols the hub agrees to; the
	// first one a client offers is echoed back. Browsers abort the
	// handshake when they offered subprotocols and none is echoed, so a UI
	// that carries its token in Sec-WebSocket-Protocol must also offer one
	// of these. Empty: no subprotocol is ever echoed.
	Subprotocols []string
	// MaxClients bounds the streams open at once; a handshake beyond it
	// gets 503 with Retry-After. Each stream holds a goroutine, buffers and
	// a queue, so without a bound a client opening thousands holds the
	// manager's memory. Default 1024.
	MaxClients int
	// Logger receives connection events; default discards.
	Logger *slog.Logger
}

// Hub fans samples out to WebSocket clients. Create it with New; it is safe
// for concurrent use.
type Hub struct {
	opt Options
	log *slog.Logger

	mu      sync.RWMutex
	closed  bool
	serving int // streams between begin and done, under mu
	byVM    map[string]map[*client]struct{}
	all     map[*client]struct{}
	fleet   map[*client]struct{}            // fleet-stream clients
	watched map[string]map[*client]struct{} // VM id → fleet clients watching it
	wg      sync.WaitGroup                  // one per ServeVM/ServeAll past the closed check

	subscribers atomic.Int64
	dropped     atomic.Uint64
}

// New returns a Hub with the defaults of Options filled in.
func New(opt Options) *Hub {
	if opt.Buffer <= 0 {
		opt.Buffer = 64
	}
	if opt.AllBuffer <= 0 {
		opt.AllBuffer = 1024
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 5 * time.Second
	}
	if opt.PingInterval <= 0 {
		opt.PingInterval = 30 * time.Second
	}
	if opt.CloseGrace <= 0 {
		opt.CloseGrace = time.Second
	}
	if opt.MaxClients <= 0 {
		opt.MaxClients = 1024
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{opt: opt, log: opt.Logger, byVM: map[string]map[*client]struct{}{},
		all: map[*client]struct{}{}, fleet: map[*client]struct{}{}, watched: map[string]map[*client]struct{}{}}
}

// Publish queues s for every client of s.VMID and every all-VM client. It
// never blocks: a client whose queue is full is dropped (see Dropped). The
// sample is encoded once; clients share the bytes. Samples published from
// one goroutine reach each client in that order.
func (h *Hub) Publish(s wire.CombinedSample) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed || (len(h.byVM[s.VMID]) == 0 && len(h.all) == 0 && len(h.watched[s.VMID]) == 0) {
		return
	}
	msg, err := json.Marshal(s)
	if err != nil { // a NaN figure, say: nothing a client could decode
		h.log.Warn("encoding sample for websocket clients", "vm_id", s.VMID, "err", err)
		return
	}
	for c := range h.byVM[s.VMID] {
		h.offer(c, msg)
	}
	for c := range h.all {
		if c.sees(s.VMID) {
			h.offer(c, msg)
		}
	}
	for c := range h.watched[s.VMID] {
		h.offer(c, msg)
	}
}

// PublishFleet sends the fleet summary f, with Kind "fleet", to every
// fleet-stream client without a selection.
func (h *Hub) PublishFleet(f wire.Fleet) { h.PublishFleetOf(labels.Selector{}, f) }

// PublishFleetOf sends f, the summary of the VMs sel picks, to the
// fleet-stream clients with that selection.
func (h *Hub) PublishFleetOf(sel labels.Selector, f wire.Fleet) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed || len(h.fleet) == 0 {
		return
	}
	f.Kind = "fleet"
	msg, err := json.Marshal(f)
	if err != nil {
		return
	}
	key := sel.String()
	for c := range h.fleet {
		if c.selKey == key {
			h.offer(c, msg)
		}
	}
}

// FleetSelections returns the distinct selections of the fleet-stream
// clients: one summary is made for each.
func (h *Hub) FleetSelections() []labels.Selector {
	h.mu.RLock()
	defer h.mu.RUnlock()
	seen := map[string]bool{}
	var out []labels.Selector
	for c := range h.fleet {
		if !seen[c.selKey] {
			seen[c.selKey] = true
			out = append(out, c.sel)
		}
	}
	return out
}

// Watched returns the VMs some fleet client watches.
func (h *Hub) Watched() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Collect(maps.Keys(h.watched))
}

// PublishWatched queues s for the fleet clients watching s.VMID only: a
// sample another manager collected, relayed for this one's screens (the
// streams of every sample carry this manager's own).
func (h *Hub) PublishWatched(s wire.CombinedSample) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed || len(h.watched[s.VMID]) == 0 {
		return
	}
	msg, err := json.Marshal(s)
	if err != nil {
		return
	}
	for c := range h.watched[s.VMID] {
		h.offer(c, msg)
	}
}

// FleetClients returns how many fleet-stream clients are connected: the
// manager computes fleet summaries only when there is one.
func (h *Hub) FleetClients() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.fleet)
}

// watch makes c, a fleet client, receive the samples of ids (and no
// others).
func (h *Hub) watch(c *client, ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unwatch(c)
	c.watching = make(map[string]struct{}, len(ids))
	if _, in := h.fleet[c]; !in { // gone already
		return
	}
	for _, id := range ids {
		if !c.sees(id) {
			continue // not the client's to see: as if unknown
		}
		c.watching[id] = struct{}{}
		set := h.watched[id]
		if set == nil {
			set = map[*client]struct{}{}
			h.watched[id] = set
		}
		set[c] = struct{}{}
	}
}

// PublishEvent sends e, with Kind "event", to the clients of its VM's
// stream and of the all-VM stream, among the samples.
func (h *Hub) PublishEvent(e wire.Event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed || (len(h.byVM[e.VMID]) == 0 && len(h.all) == 0 && len(h.fleet) == 0) {
		return
	}
	e.Kind = "event"
	msg, err := json.Marshal(e)
	if err != nil {
		return
	}
	for c := range h.byVM[e.VMID] {
		h.offer(c, msg)
	}
	for c := range h.all {
		if c.sees(e.VMID) {
			h.offer(c, msg)
		}
	}
	for c := range h.fleet {
		if c.sees(e.VMID) {
			h.offer(c, msg)
		}
	}
}

// offer queues msg for c, or drops c when its queue is full. It runs under
// h.mu's read lock, so it only signals; c's own goroutine unregisters it.
func (h *Hub) offer(c *client, msg []byte) {
	select {
	case c.queue <- msg:
	default:
		reason := "too slow: " + c.kind + " queue full"
		if c.kick(websocket.StatusPolicyViolation, reason) {
			h.dropped.Add(1)
			h.log.Warn("dropping slow websocket client", "remote", c.remote, "stream", c.kind, "vm_id", c.vmID)
		}
	}
}

// Subscribers returns the number of connected clients, per-VM and all-VM.
func (h *Hub) Subscribers() int { return int(h.subscribers.Load()) }

// Dropped returns how many clients have been dropped for falling behind
// since New.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Close closes every connection with StatusGoingAway and waits until their
// goroutines have ended (at most about CloseGrace plus WriteTimeout). Later
// upgrade requests are answered 503. Calling it again just waits again.
//
// http.Server.Shutdown does not wait for hijacked connections, so register
// it with Server.RegisterOnShutdown and also call it after Shutdown returns.
func (h *Hub) Close() {
	h.mu.Lock()
	clients := make([]*client, 0, h.subscribers.Load())
	if !h.closed {
		h.closed = true
		for c := range h.all {
			clients = append(clients, c)
		}
		for c := range h.fleet {
			clients = append(clients, c)
		}
		for _, set := range h.byVM {
			for c := range set {
				clients = append(clients, c)
			}
		}
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.kick(websocket.StatusGoingAway, "server shutting down")
	}
	h.wg.Wait()
}

// begin reserves a slot for a new connection; false once Close has begun.
func (h *Hub) begin() (refusal string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return "server is shutting down"
	case h.serving >= h.opt.MaxClients:
		return fmt.Sprintf("too many streams open (%d, the manager's --max-streams); try again later", h.opt.MaxClients)
	}
	h.serving++
	h.wg.Add(1)
	return ""
}

// done ends what begin started.
func (h *Hub) done() {
	h.mu.Lock()
	h.serving--
	h.mu.Unlock()
	h.wg.Done()
}

// add registers c; false when Close began since begin, and c must leave.
func (h *Hub) add(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	switch {
	case c.fleet:
		h.fleet[c] = struct{}{}
	case c.all:
		h.all[c] = struct{}{}
	default:
		set := h.byVM[c.vmID]
		if set == nil {
			set = map[*client]struct{}{}
			h.byVM[c.vmID] = set
		}
		set[c] = struct{}{}
	}
	h.subscribers.Add(1)
	return true
}

// remove unregisters c, which must have been added.
func (h *Hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case c.fleet:
		delete(h.fleet, c)
		h.unwatch(c)
	case c.all:
		delete(h.all, c)
	default:
		set := h.byVM[c.vmID]
		if set == nil {
			break
		}
		delete(set, c)
		if len(set) == 0 {
			delete(h.byVM, c.vmID)
		}
	}
	h.subscribers.Add(-1)
}

// unwatch takes fleet client c off the VMs it watches; under h.mu.
func (h *Hub) unwatch(c *client) {
	for id := range c.watching {
		if set := h.watched[id]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(h.watched, id)
			}
		}
	}
}
