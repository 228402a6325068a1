package fcmonctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// subprotocol is the manager's WebSocket subprotocol.
const subprotocol = "fcmon.v1"

// maxMessageBytes bounds one message of the fleet stream.
const maxMessageBytes = 8 << 20

func topCommand() command {
	var once bool
	var label strs
	var events int
	return command{
		name: "top",
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&once, "once", false, "show one screen and exit (for scripts)")
			fs.Var(&label, "label", "only VMs with this label, key=value (repeat for all of several)")
			fs.IntVar(&events, "events", 5, "how many of the latest events to show below")
		},
		run: func(ctx context.Context, c *client, g *globals, _ []string) error {
			return top(ctx, c, g, label, once, events)
		},
	}
}

// top shows the fleet stream's summaries as they come (every 2 s or the
// poll interval, the longer), each replacing the previous on a terminal,
// until ctx ends or the stream does.
func top(ctx context.Context, c *client, g *globals, label []string, once bool, nEvents int) error {
	u := *c.base
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path += "/v1/fleet/ws"
	u.RawQuery = url.Values{"label": label}.Encode()
	h := http.Header{"User-Agent": {"fcmonctl"}}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	dctx, cancel := context.WithTimeout(ctx, g.timeout)
	// coder/websocket: the response's body never needs closing.
	conn, resp, err := websocket.Dial(dctx, //nolint:bodyclose
		u.String(), &websocket.DialOptions{
			HTTPClient: &http.Client{Transport: c.http.Transport}, HTTPHeader: h, Subprotocols: []string{subprotocol}})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return fmt.Errorf("GET /v1/fleet/ws: %d %s (is the token allowed to read the fleet?)", resp.StatusCode, http.StatusText(resp.StatusCode))
		}
		return fmt.Errorf("the manager at %s does not open its fleet stream: %w", c.base.Redacted(), err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxMessageBytes)
	var recent []wire.Event
	for {
		_, msg, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				conn.Close(websocket.StatusNormalClosure, "")
				return ctx.Err()
			}
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return fmt.Errorf("the manager closed the fleet stream: %s", or(ce.Reason, ce.Code.String()))
			}
			return fmt.Errorf("the fleet stream ended: %w", err)
		}
		var kind struct {
			Kind  string `json:"kind"`
			Error string `json:"error"`
		}
		if json.Unmarshal(msg, &kind) != nil {
			continue
		}
		switch kind.Kind {
		case "error":
			return fmt.Errorf("the fleet stream refused: %s", kind.Error)
		case "event":
			var e wire.Event
			if json.Unmarshal(msg, &e) == nil {
				recent = append(recent, e)
				if len(recent) > nEvents {
					recent = recent[len(recent)-nEvents:]
				}
			}
			continue
		case "fleet":
		default:
			continue
		}
		var f wire.Fleet
		if err := json.Unmarshal(msg, &f); err != nil {
			continue
		}
		if g.output == "json" {
			fmt.Fprintln(g.stdout, string(msg))
		} else {
			var b strings.Builder
			if g.isTerminal && !once {
				b.WriteString("\x1b[H\x1b[2J") // home, clear: the next screen in place
			}
			writeTop(&b, &f, recent, g.now())
			io.WriteString(g.stdout, b.String())
		}
		if once {
			conn.Close(websocket.StatusNormalClosure, "")
			return nil
		}
	}
}

// writeTop is one screen of top.
func writeTop(w io.Writer, f *wire.Fleet, recent []wire.Event, now time.Time) {
	fmt.Fprintf(w, "fcmon top — %s — %d VMs: %d live, %d stale, %d pending, %d gone — %d host agents\n",
		time.UnixMilli(f.GeneratedMs).Local().Format("15:04:05"), f.VMs, f.ByState[wire.StateLive], f.ByState[wire.StateStale],
		f.ByState[wire.StatePending], f.ByState[wire.StateGone], f.HostsTotal)
	if len(f.MissingManagers) > 0 {
		fmt.Fprintf(w, "missing: the VMs of managers %s (not answering)\n", strings.Join(f.MissingManagers, ", "))
	}
	down := 0
	for _, h := range f.Hosts {
		if !h.Reachable {
			down++
		}
	}
	if down > 0 {
		fmt.Fprintf(w, "%d host agents not answering\n", down)
	}
	hostName := map[string]string{}
	for _, h := range f.Hosts {
		hostName[h.ID] = or(h.Name, h.ID)
	}
	section := func(title, unit string, vms []wire.FleetVM, format func(float64) string) {
		fmt.Fprintf(w, "\n%-6s %-32s %-20s %12s  %s\n", title, "VM", "HOST", unit, "SOURCE")
		if len(vms) == 0 {
			fmt.Fprintln(w, "       (no live VM)")
		}
		for _, v := range vms {
			host := or(hostName[v.HostID], "-")
			fmt.Fprintf(w, "%-6s %-32s %-20s %12s  %s\n", "", clip(or(v.Name, v.ID), 32), clip(host, 20), format(v.Value), v.Source)
		}
	}
	percent := func(v float64) string { return fmt.Sprintf("%.1f%%", v) }
	rate := func(v float64) string { return bytesOf(v) + "/s" }
	section("CPU", "CPU", f.Top.CPU, percent)
	section("MEMORY", "MEMORY", f.Top.Memory, percent)
	section("NET", "RX+TX", f.Top.Network, rate)
	section("DISK", "READ+WRITE", f.Top.Disk, rate)
	if len(recent) > 0 {
		fmt.Fprintln(w, "\nEVENTS")
		for i := len(recent) - 1; i >= 0; i-- {
			e := recent[i]
			fmt.Fprintf(w, "  %s  %-14s %s\n", when(e.TimestampMs, now), e.Type, clip(e.Message, 100))
		}
	}
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
