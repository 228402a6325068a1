package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of what a VM registration may hold.
const (
	maxNameChars  = 128
	maxPathBytes  = 4095    // PATH_MAX less the terminating NUL
	maxSocketPath = 107     // sun_path less the terminating NUL
	maxPID        = 1 << 22 // the kernel's PID_MAX_LIMIT
	maxURLBytes   = 2048
)

// ParseUUID returns s as a canonical lower-case UUID when it has the
// 8-4-4-4-12 hexadecimal form (any case); the other spellings some
// libraries accept (braces, "urn:uuid:", no dashes) are refused, so that
// one VM has one id.
func ParseUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return "", false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

// NewUUID returns a random (version 4, RFC 9562) UUID.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// checkID validates a VM id from a request and returns its canonical form.
func checkID(field, id string) (string, error) {
	canon, ok := ParseUUID(id)
	if !ok {
		return "", badRequest("%s %q is not a UUID; expected the form 123e4567-e89b-12d3-a456-426614174000", field, clip(id))
	}
	return canon, nil
}

// checkName requires a non-blank name of at most maxNameChars characters
// without control characters, which would garble logs and the UI.
func checkName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case strings.TrimSpace(name) == "":
		return badRequest("name is empty; expected 1 to %d characters", maxNameChars)
	case n > maxNameChars:
		return badRequest("name is %d characters long; expected at most %d", n, maxNameChars)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return badRequest("name %q contains a control character; expected printable text", clip(name))
	}
	return nil
}

// checkGuestIP parses a guest address: an IP literal without zone, not
// link-local, multicast or unspecified whatever the allow list says, and
// inside one of the allowed prefixes. It returns the address's canonical
// text (an IPv4-mapped IPv6 address becomes plain IPv4).
func checkGuestIP(s string, allowed []netip.Prefix) (string, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return "", badRequest("guest_ip %q is not an IPv4 or IPv6 address; expected an IP literal such as 192.168.1.100 (host names are not accepted)", clip(s))
	}
	if ip.Zone() != "" {
		return "", badRequest("guest_ip %q has an IPv6 zone; expected an address without %%zone", clip(s))
	}
	ip = ip.Unmap()
	switch {
	case ip.IsLinkLocalUnicast():
		return "", badRequest("guest_ip %s is link-local (169.254.0.0/16 or fe80::/10, where cloud metadata services such as 169.254.169.254 live); the manager never contacts such addresses", ip)
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return "", badRequest("guest_ip %s is a multicast address; expected a unicast guest address", ip)
	case ip.IsUnspecified():
		return "", badRequest("guest_ip %s is the unspecified address; expected the guest's own address", ip)
	}
	for _, p := range allowed {
		if p.Contains(ip) {
			return ip.String(), nil
		}
	}
	return "", badRequest("guest_ip %s is outside the allowed guest networks (%s); the manager's --guest-allow-cidrs decides which addresses it may contact", ip, prefixList(allowed))
}

// checkPort requires a TCP port number.
func checkPort(port int) error {
	if port < 1 || port > 65535 {
		return badRequest("guest_port %d is out of range; expected 1 to 65535", port)
	}
	return nil
}

// checkHostAgentURL requires an http or https URL with a host and no user
// information, query or fragment, and returns it without trailing slash.
func checkHostAgentURL(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case len(s) > maxURLBytes:
		return "", badRequest("host_agent_url is %d bytes long; expected at most %d", len(s), maxURLBytes)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "":
		return "", badRequest("host_agent_url %q is not an http:// or https:// URL with a host; expected for example http://10.0.0.1:9091", clip(s))
	case u.User != nil:
		return "", badRequest("host_agent_url must not hold user information; the host agent token comes from the manager's --host-agent-token-file")
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return "", badRequest("host_agent_url %q has a query or fragment; expected a base URL such as http://10.0.0.1:9091", clip(s))
	}
	return strings.TrimRight(s, "/"), nil
}

// checkPID requires 0 (none) or a possible process id.
func checkPID(pid int) error {
	if pid < 0 || pid > maxPID {
		return badRequest("vmm_pid %d is out of range; expected a process id from 1 to %d, or 0 for none", pid, maxPID)
	}
	return nil
}

// checkPath requires "" (none) or an absolute, clean-enough path of at most
// limit bytes without NUL.
func checkPath(field, p string, limit int) error {
	switch {
	case p == "":
		return nil
	case !filepath.IsAbs(p):
		return badRequest("%s %q is not an absolute path; expected a path starting with /", field, clip(p))
	case len(p) > limit:
		return badRequest("%s is %d bytes long; expected at most %d", field, len(p), limit)
	case strings.IndexByte(p, 0) >= 0:
		return badRequest("%s contains a NUL byte", field)
	}
	return nil
}

// clip shortens a client's value for quoting in a message.
func clip(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// prefixList is the allow list as the message shows it.
func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "none"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}
