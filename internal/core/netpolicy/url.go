package netpolicy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxURLBytes bounds an agent URL.
const MaxURLBytes = 2048

// ParseAgentURL checks the form of an agent's base URL given as field: http
// or https, a host and optional port, nothing else — no user information,
// path, query or fragment. The host is a dotted-quad IPv4 address, a
// bracketed IPv6 address without zone, or a DNS name; the other numeric
// spellings URL parsers accept for IPv4 (0x7f.1, 2130706433, 0177.0.0.1)
// are refused, as they are a common way past address filters. It returns
// the URL in canonical form: lower-case scheme and host, no trailing slash.
// Whether the host may be contacted is CheckHost's question.
func ParseAgentURL(field, raw string) (string, error) {
	example := "; expected a base URL such as http://10.0.0.1:9091"
	if len(raw) > MaxURLBytes {
		return "", fmt.Errorf("%s is %d bytes long; expected at most %d", field, len(raw), MaxURLBytes)
	}
	if !utf8.ValidString(raw) || strings.ContainsAny(raw, " \t\r\n\\") {
		return "", fmt.Errorf("%s %s holds whitespace, a backslash or invalid UTF-8%s", field, quote(raw), example)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Opaque != "":
		return "", fmt.Errorf("%s %s is not a URL%s", field, quote(raw), example)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("%s %s is not an http:// or https:// URL%s", field, quote(raw), example)
	case u.User != nil || strings.Contains(u.Host, "@"):
		return "", fmt.Errorf("%s must not hold user information; tokens come from the manager's own flags", field)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(raw, "?#"):
		return "", fmt.Errorf("%s %s has a query or fragment%s", field, quote(raw), example)
	case u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("%s %s has a path%s", field, quote(raw), example)
	}
	host, err := checkHostForm(u.Hostname())
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	out := u.Scheme + "://" + host
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return "", fmt.Errorf("%s port %q is not a port number from 1 to 65535", field, p)
		}
		out += ":" + p
	} else if strings.HasSuffix(u.Host, ":") {
		return "", fmt.Errorf("%s %s has an empty port%s", field, quote(raw), example)
	}
	return out, nil
}

// checkHostForm validates a URL host and returns it as it goes into the
// canonical URL (IPv6 in brackets).
func checkHostForm(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("the URL has no host")
	}
	if strings.Contains(h, ":") { // only IPv6 literals hold a colon in Hostname
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return "", fmt.Errorf("host %s is not an IPv6 address without zone", quote(h))
		}
		return "[" + ip.String() + "]", nil
	}
	if strings.Trim(h, "0123456789.") == "" {
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is4() {
			return "", fmt.Errorf("host %s is not a dotted-quad IPv4 address (other numeric forms are refused)", quote(h))
		}
		return ip.String(), nil
	}
	name := strings.ToLower(strings.TrimSuffix(h, "."))
	if err := checkDNSName(name); err != nil {
		return "", fmt.Errorf("host %s %w", quote(h), err)
	}
	return name, nil
}

// checkDNSName requires letters, digits and hyphens in labels of 1 to 63
// bytes, at most 253 in all, and a last label that is not a number (which
// URL parsers read as an IPv4 address).
func checkDNSName(name string) error {
	if len(name) > 253 {
		return fmt.Errorf("is longer than 253 bytes")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("is not a host name (labels of 1 to 63 letters, digits or inner hyphens)")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("is not a host name (labels of 1 to 63 letters, digits or inner hyphens)")
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") && strings.Trim(last[2:], "0123456789abcdef") == "" {
		return fmt.Errorf("ends in a number, a numeric IPv4 form; write the address as a dotted quad")
	}
	return nil
}

// Resolver looks a host name up; net.DefaultResolver.LookupNetIP fits.
type Resolver func(ctx context.Context, network, host string) ([]netip.Addr, error)

// resolveTimeout bounds the look-up of an agent's host name at registration.
const resolveTimeout = 3 * time.Second

// CheckURLHost checks that the host of a canonical agent URL (as
// ParseAgentURL returns it) may be contacted: an IP literal must be
// allowed, and a name must resolve, with every address it resolves to
// allowed. The dialer checks the address again at each connection (see
// List.Control), so a name that resolves elsewhere later is still refused.
func (l List) CheckURLHost(ctx context.Context, canonical string, resolve Resolver) error {
	u, err := url.Parse(canonical)
	if err != nil {
		return err
	}
	h := u.Hostname()
	if ip, err := netip.ParseAddr(h); err == nil {
		return l.Check(ip)
	}
	if resolve == nil {
		resolve = net.DefaultResolver.LookupNetIP
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := resolve(ctx, "ip", h)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("host %s does not resolve: %w", quote(h), ErrNotAllowed)
	}
	for _, a := range addrs {
		if err := l.Check(a); err != nil {
			return fmt.Errorf("host %s resolves to %w", quote(h), err)
		}
	}
	return nil
}

// quote quotes a client's value for a message, shortened.
func quote(s string) string {
	const limit = 80
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}
