package api

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Limits of what a VM registration may hold.
const (
	maxNameChars  = 128
	maxPathBytes  = 4095    // PATH_MAX less the terminating NUL
	maxSocketPath = 107     // sun_path less the terminating NUL
	maxPID        = 1 << 22 // the kernel's PID_MAX_LIMIT
)

// checkID validates a VM id from a request and returns its canonical form.
func checkID(field, id string) (string, error) {
	canon, ok := store.ParseUUID(id)
	if !ok {
		return "", badRequest("%s %q is not a UUID; expected the form 123e4567-e89b-12d3-a456-426614174000", field, clip(id))
	}
	return canon, nil
}

// checkName requires 1 to maxNameChars characters of which at least one is
// visible, with no control character (which would garble logs and the UI)
// and no bidirectional override (which makes a name display as another:
// "vm-\u202eexe.txt").
func checkName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case strings.TrimSpace(name) == "":
		return badRequest("name is empty; expected 1 to %d characters", maxNameChars)
	case n > maxNameChars:
		return badRequest("name is %d characters long; expected at most %d", n, maxNameChars)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return badRequest("name %q contains a control character; expected printable text", clip(name))
	case strings.IndexFunc(name, isBidiControl) >= 0:
		return badRequest("name %q contains a bidirectional control character (U+202A–U+202E, U+2066–U+2069, ...), which makes a name display as another; expected plain text", clip(name))
	case strings.IndexFunc(name, isVisible) < 0:
		return badRequest("name %q has no visible character (only spaces, zero-width or format characters); expected a readable name", clip(name))
	}
	return nil
}

// isBidiControl reports the characters that reorder text around them.
func isBidiControl(r rune) bool {
	return r == 0x061C || r == 0x200E || r == 0x200F || (0x202A <= r && r <= 0x202E) || (0x2066 <= r && r <= 0x2069)
}

// isVisible reports whether r shows as something: not a space, a format
// character (zero-width space, joiners, BOM, ...) or a default-ignorable
// filler such as the Hangul filler.
func isVisible(r rune) bool {
	return !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) && !unicode.Is(unicode.Mn, r) &&
		r != 0x115F && r != 0x1160 && r != 0x3164 && r != 0xFFA0 && r != 0x2800 && r != 0x034F
}

// checkGuestIP parses a guest address: an IP literal inside --guest-allow-cidrs
// and never a link-local, multicast, unspecified or metadata address (see
// netpolicy). It returns the canonical text (an IPv4-mapped IPv6 address
// becomes plain IPv4).
func (a *API) checkGuestIP(s string) (string, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return "", badRequest("guest_ip %q is not an IPv4 or IPv6 address; expected an IP literal such as 192.168.1.100 (host names are not accepted)", clip(s))
	}
	if err := a.opt.GuestAllow.Check(ip); err != nil {
		return "", badRequest("guest_ip %v", err)
	}
	return netpolicy.Canonical(ip).String(), nil
}

// checkHostAgentURL validates a host agent's base URL: its form (see
// netpolicy.ParseAgentURL) and that its host may be contacted — an address
// inside --host-agent-allow-cidrs, or a name every address of which is.
// It returns the canonical URL.
func (a *API) checkHostAgentURL(ctx context.Context, s string) (string, error) {
	return a.checkAgentURL(ctx, "host_agent_url", s)
}

// checkAgentURL validates a host agent's URL given as field: its form, and
// its host against --host-agent-allow-cidrs.
func (a *API) checkAgentURL(ctx context.Context, field, s string) (string, error) {
	canon, err := netpolicy.ParseAgentURL(field, s)
	if err != nil {
		return "", badRequest("%v", err)
	}
	if err := a.opt.HostAgentAllow.CheckURLHost(ctx, canon, a.opt.Resolve); err != nil {
		return "", badRequest("%s %s: %v", field, clip(canon), err)
	}
	return canon, nil
}

// checkPort requires a TCP port number.
func checkPort(port int) error {
	if port < 1 || port > 65535 {
		return badRequest("guest_port %d is out of range; expected 1 to 65535", port)
	}
	return nil
}

// checkPID requires 0 (none) or a possible process id.
func checkPID(pid int) error {
	if pid < 0 || pid > maxPID {
		return badRequest("vmm_pid %d is out of range; expected a process id from 1 to %d, or 0 for none", pid, maxPID)
	}
	return nil
}

// checkPath requires "" (none) or an absolute path of at most limit bytes
// without NUL.
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
