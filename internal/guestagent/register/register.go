package register

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/logfmt"
	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

// Config says what to register where.
type Config struct {
	Target    Target
	VMID      string
	Token     string     // the manager's API token; empty for none
	Advertise netip.Addr // fixed address to report; zero to discover it
	Port      uint16     // port to report
	UserAgent string

	// HostsFile and RouteFile default to /etc/hosts and /proc/net/route.
	HostsFile, RouteFile string
	// MinBackoff and MaxBackoff bound the wait between failed attempts
	// (defaults 1s and 60s); Recheck is how often the address is checked
	// for changes after a success (default 15s).
	MinBackoff, MaxBackoff, Recheck time.Duration
	Log                             *logfmt.Logger
	// OnRegistered, when set, is called after each successful registration.
	OnRegistered func(netip.Addr)

	lookup func() (netip.Addr, error) // replaces address discovery in tests
}

// ValidVMID reports whether id can stand in a URL path as is: letters,
// digits, '-', '_' and '.', 1 to 128 characters (UUIDs and names alike).
func ValidVMID(id string) bool {
	if id == "" || len(id) > 128 || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Run registers at once and again whenever the address changes, until ctx
// ends. Failures are logged and retried with jittered exponential backoff;
// Run never gives up, since a manager that is down now may be up later.
func Run(ctx context.Context, c Config) {
	c.defaults()
	var registered netip.Addr
	backoff := c.MinBackoff
	for {
		wait := c.Recheck
		ip, err := c.address()
		if err == nil && ip != registered {
			err = c.attempt(ctx, ip)
			if err == nil {
				registered = ip
				backoff = c.MinBackoff
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = jitter(backoff)
			c.Log.Warn("registration failed", "vm_id", c.VMID, "err", err, "retry_in", wait.Round(time.Millisecond))
			backoff = min(backoff*2, c.MaxBackoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (c *Config) defaults() {
	if c.HostsFile == "" {
		c.HostsFile = "/etc/hosts"
	}
	if c.RouteFile == "" {
		c.RouteFile = "/proc/net/route"
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(60*time.Second, c.MinBackoff)
	}
	if c.Recheck <= 0 {
		c.Recheck = 15 * time.Second
	}
}

func (c *Config) attempt(ctx context.Context, ip netip.Addr) error {
	to, err := c.Target.Resolve(c.HostsFile)
	if err != nil {
		return err
	}
	if err := post(ctx, c.Target, to, c.VMID, c.Token, c.UserAgent, ip, c.Port); err != nil {
		return err
	}
	c.Log.Info("registered with the manager", "vm_id", c.VMID, "guest_ip", ip.String(), "guest_port", int(c.Port))
	if c.OnRegistered != nil {
		c.OnRegistered(ip)
	}
	return nil
}

// address is the address to report: --advertise, else the source address of
// the IPv4 default route, else the address that reaches the manager.
func (c *Config) address() (netip.Addr, error) {
	if c.lookup != nil {
		return c.lookup()
	}
	if c.Advertise.IsValid() {
		return c.Advertise, nil
	}
	if route, err := os.ReadFile(c.RouteFile); err == nil {
		if gw, ok := defaultGateway(route); ok && gw.IsValid() && !gw.IsUnspecified() {
			if src, err := sock.RouteSource(gw); err == nil {
				return src, nil
			}
		}
	}
	to, err := c.Target.Resolve(c.HostsFile)
	if err != nil {
		return netip.Addr{}, err
	}
	src, err := sock.RouteSource(to.Addr())
	if err != nil {
		return netip.Addr{}, errors.New("finding the address to advertise (no default route; pass --advertise): " + err.Error())
	}
	return src, nil
}

// jitter spreads d by ±20% so a fleet restarted together does not retry in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// String returns the URL the agent registers with.
func (t Target) String() string {
	return "http://" + t.hostHeader() + t.Prefix
}
