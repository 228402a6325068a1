package netpolicy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// IsLoopback reports whether listen (host:port, as given to --listen)
// serves on loopback only. An empty host means every interface, and a host
// name other than localhost might resolve anywhere, so both count as
// beyond loopback.
func IsLoopback(listen string) (bool, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		msg := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			msg = ae.Err
		}
		return false, fmt.Errorf("--listen %q is not host:port: %s", listen, msg)
	}
	if port == "" {
		return false, fmt.Errorf("--listen %q has no port", listen)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback(), nil
}

// Hosts is the policy of which Host header values a server answers: the
// defence against DNS rebinding, where a web page whose name an attacker
// points at 127.0.0.1 makes a browser send requests, with the attacker's
// name as Host, to a service on loopback. A Host naming this server passes:
// localhost, a loopback address, the listen address (any address of this
// machine when listening on all interfaces), or a name or address given to
// --allowed-hosts (a leading "*." matches any subdomain). A request without
// a Host (HTTP/1.0) passes: no browser sends one.
type Hosts struct {
	listenIP netip.Addr // invalid for a wildcard or named listen address
	wildcard bool
	names    map[string]bool
	suffixes []string // from "*.example.com": ".example.com"
	ips      map[netip.Addr]bool

	mu       sync.Mutex
	local    map[netip.Addr]bool // this machine's addresses, for wildcard listens
	localAt  time.Time
	readAddr func() ([]net.Addr, error)
}

// NewHosts returns the policy of a server listening on listen with the
// extra names of --allowed-hosts.
func NewHosts(listen string, allowed []string) (*Hosts, error) {
	h := &Hosts{names: map[string]bool{"localhost": true}, ips: map[netip.Addr]bool{}, readAddr: net.InterfaceAddrs}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q is not host:port", listen)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		h.listenIP = ip.Unmap()
		h.wildcard = ip.IsUnspecified()
	} else if host == "" {
		h.wildcard = true
	} else {
		h.names[normalName(host)] = true
	}
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
			h.ips[ip.Unmap()] = true
			continue
		}
		name := normalName(a)
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			if checkDNSName(rest) != nil {
				return nil, fmt.Errorf("--allowed-hosts: %q is not a host name or *.domain pattern", a)
			}
			h.suffixes = append(h.suffixes, "."+rest)
			continue
		}
		if checkDNSName(name) != nil {
			return nil, fmt.Errorf("--allowed-hosts: %q is not a host name or address (give no scheme or port)", a)
		}
		h.names[name] = true
	}
	return h, nil
}

// Allowed reports whether a request with this Host header value is answered.
func (h *Hosts) Allowed(hostHeader string) bool {
	if hostHeader == "" {
		return true
	}
	host := hostHeader
	if hp, _, err := net.SplitHostPort(hostHeader); err == nil {
		host = hp
	}
	host = strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return false
		}
		ip = ip.Unmap()
		return ip.IsLoopback() || ip == h.listenIP || h.ips[ip] || (h.wildcard && h.isLocal(ip))
	}
	name := normalName(host)
	if h.names[name] {
		return true
	}
	for _, s := range h.suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// isLocal reports whether ip is an address of this machine, re-reading the
// interfaces at most every 10 s when ip is not known.
func (h *Hosts) isLocal(ip netip.Addr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.local[ip] {
		return true
	}
	if time.Since(h.localAt) < 10*time.Second {
		return false
	}
	h.localAt = time.Now()
	addrs, err := h.readAddr()
	if err != nil {
		return false
	}
	h.local = map[netip.Addr]bool{}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			h.local[p.Addr().Unmap()] = true
		}
	}
	return h.local[ip]
}

func normalName(s string) string {
	return strings.TrimSuffix(strings.ToLower(s), ".")
}
