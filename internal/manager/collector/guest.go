package collector

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

// guestState is what the poller remembers of a VM's guest agent between
// rounds.
type guestState struct {
	addr    string    // host:port last polled; a new address ends any backoff
	fails   int       // consecutive failed polls
	nextTry time.Time // no poll before this slot
	status  wire.GuestAgentStatus
}

// backoff is the pause after the given number of consecutive failures:
// one interval after the first (a single lost answer costs nothing), then
// doubling — the next poll after 2, 4, 8, 16 intervals — up to max. While
// paused, the VM still gets a sample every interval from the host agent.
func backoff(fails int, interval, max time.Duration) time.Duration {
	d := interval
	for i := 1; i < fails && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// pollGuest asks the guest agent for its metrics unless the VM has none or
// its agent is being backed off; nil when there are no figures this round.
func (w *worker) pollGuest(ctx context.Context, t Target, slot time.Time) *wire.GuestMetrics {
	g := &w.guest
	addr := guestAddr(t)
	if addr != g.addr {
		// A new address (the agent re-registered, say after a reboot)
		// deserves an immediate try.
		*g = guestState{addr: addr, status: wire.GuestAgentStatus{LastSuccessMs: g.status.LastSuccessMs}}
	}
	if t.GuestIP == "" || slot.Before(g.nextTry) {
		return nil
	}
	start := time.Now()
	m, perr := w.fetchGuest(ctx, t, addr)
	w.report(KindGuest, start, perr)
	switch {
	case perr == nil:
		if !g.status.Reachable {
			w.c.log.Info("guest agent answering", "vm_id", w.id, "addr", addr)
		}
		g.fails, g.nextTry = 0, time.Time{}
		g.status = wire.GuestAgentStatus{Reachable: true, LastSuccessMs: w.c.opt.Now().UnixMilli()}
		return m
	case perr.Reason == agentclient.ReasonCanceled:
		return nil
	}
	if g.status.Reachable || g.fails == 0 {
		w.c.log.Warn("guest agent not answering; falling back to the host agent", "vm_id", w.id,
			"addr", addr, "reason", perr.Reason, "err", perr)
	}
	g.fails++
	g.nextTry = slot.Add(backoff(g.fails, w.c.opt.PollInterval, w.c.opt.GuestBackoffMax))
	g.status.Reachable = false
	g.status.LastError = publicError(perr, addr)
	return nil
}

// guestAddr is the host:port of the VM's guest agent, "" without one.
func guestAddr(t Target) string {
	if t.GuestIP == "" {
		return ""
	}
	port := t.GuestPort
	if port == 0 {
		port = wire.DefaultGuestPort
	}
	return net.JoinHostPort(t.GuestIP, strconv.Itoa(port))
}

// fetchGuest gets and checks one /metrics document. The address must be an
// IP literal: the registry validates it, and refusing names here means a
// bad row can never make the manager resolve and contact arbitrary hosts.
func (w *worker) fetchGuest(ctx context.Context, t Target, addr string) (*wire.GuestMetrics, *pollError) {
	ip, err := netip.ParseAddr(t.GuestIP)
	if err != nil || ip.Zone() != "" || t.GuestPort < 0 || t.GuestPort > 65535 {
		return nil, failf(agentclient.ReasonBadTarget, "guest address %q is not an IP literal and port", addr)
	}
	data, perr := w.c.fetchGuestDirect(ctx, &w.conn, addr)
	if perr != nil {
		return nil, perr
	}
	m, perr := decodeGuest(data)
	if perr != nil {
		return nil, perr
	}
	if err := m.Validate(); err != nil {
		return nil, failf(agentclient.ReasonOutOfRange, "guest metrics: %w", err)
	}
	return m, nil
}

// guestDoc is the guest agent's document as the collector decodes it: the
// six fields of the original agent as pointers, which shadow those of the
// embedded GuestMetrics (encoding/json prefers the shallower field), so
// that one decoding pass both fills the figures and tells a missing or null
// field from a real zero.
type guestDoc struct {
	wire.GuestMetrics
	CPU    *float64 `json:"cpu_usage_percent"`
	MemPct *float64 `json:"memory_usage_percent"`
	Used   *uint64  `json:"memory_used_kb"`
	Total  *uint64  `json:"memory_total_kb"`
	Avail  *uint64  `json:"memory_available_kb"`
	Uptime *uint64  `json:"uptime_seconds"`
}

// decodeGuest parses a /metrics document and checks that the six fields of
// the original agent are present: decoding alone would turn a missing one
// into a zero that looks like a real reading.
func decodeGuest(data []byte) (*wire.GuestMetrics, *pollError) {
	var d guestDoc
	if perr := agentclient.Decode(data, &d); perr != nil {
		return nil, perr
	}
	for _, f := range []struct {
		name    string
		present bool
	}{
		{"cpu_usage_percent", d.CPU != nil}, {"memory_usage_percent", d.MemPct != nil},
		{"memory_used_kb", d.Used != nil}, {"memory_total_kb", d.Total != nil},
		{"memory_available_kb", d.Avail != nil}, {"uptime_seconds", d.Uptime != nil},
	} {
		if !f.present {
			return nil, failf(agentclient.ReasonBadJSON, "guest metrics lack %s", f.name)
		}
	}
	m := &d.GuestMetrics
	m.CPUUsagePercent, m.MemoryUsagePercent = *d.CPU, *d.MemPct
	m.MemoryUsedKB, m.MemoryTotalKB, m.MemoryAvailableKB, m.UptimeSeconds = *d.Used, *d.Total, *d.Avail, *d.Uptime
	return m, nil
}

// publicError is last_error as API callers read it: the class and what the
// manager itself did, never the agent's own words (see agentclient.Error).
func publicError(perr *pollError, addr string) string {
	msg := perr.Reason + ": "
	switch perr.Reason {
	case agentclient.ReasonHTTPStatus:
		return msg + "GET http://" + addr + "/metrics answered " + strconv.Itoa(perr.Status) + " " + http.StatusText(perr.Status)
	case agentclient.ReasonTimeout:
		return msg + "no complete answer from " + addr + " in time"
	case agentclient.ReasonRefused:
		return msg + "connection to " + addr + " refused"
	case agentclient.ReasonNotAllowed:
		return msg + addr + " is outside --guest-allow-cidrs"
	case agentclient.ReasonTooLarge:
		return msg + "the answer from " + addr + " is too large"
	}
	// The rest carry the manager's own description (decoding, range
	// checks, connection errors), never the agent's body.
	return msg + shorten(perr.Error())
}

func shorten(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// statusText is an HTTP status as a status line shows it: "404 Not Found".
func statusText(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}
