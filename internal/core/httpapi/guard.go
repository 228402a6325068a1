package httpapi

import (
	"net/http"
	"net/url"

	"github.com/fcmon/fcmon/internal/core/bearer"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
)

// ErrorWriter renders a handler's error (an API's WriteError).
type ErrorWriter func(http.ResponseWriter, *http.Request, error)

// RequireToken wraps next so that it needs "Authorization: Bearer <token>"
// (401 with WWW-Authenticate otherwise). An empty token requires nothing.
// product names the server in the realm and the message, such as
// "host agent".
func RequireToken(token, product, flag string, onError ErrorWriter, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearer.Check(r.Header.Get("Authorization"), token) {
			Unauthorized(w, r, product, flag, onError)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Unauthorized answers 401 with the challenge of product.
func Unauthorized(w http.ResponseWriter, r *http.Request, product, flag string, onError ErrorWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="fcmon `+product+`"`)
	onError(w, r, Errorf(http.StatusUnauthorized,
		"missing or wrong bearer token; send Authorization: Bearer <token> (the %s's %s)", product, flag))
}

// CheckHost wraps next so that only requests whose Host names this server
// (see netpolicy.Hosts) are answered; others get 421 Misdirected Request.
// It is the defence against DNS rebinding, which would otherwise let any
// web page a local browser opens reach services on loopback.
func CheckHost(hosts *netpolicy.Hosts, onError ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hosts.Allowed(r.Host) {
			onError(w, r, Errorf(http.StatusMisdirectedRequest,
				"Host %s does not name this server; if it does, add it to --allowed-hosts (requests for other names are refused as a defence against DNS rebinding)",
				clipQuote(r.Host)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// OriginAllowed reports whether a request's Origin header, if any, names a
// host this server answers (hosts) or one of extra (path.Match patterns of
// hosts, as --allowed-origins gives them). Browsers send Origin with every
// WebSocket handshake, so a page of another site cannot open a stream.
func OriginAllowed(r *http.Request, hosts *netpolicy.Hosts, extra func(host string) bool) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return hosts.Allowed(u.Host) || (extra != nil && extra(u.Host))
}

func clipQuote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return `"` + sanitize(s) + `"`
}

// sanitize replaces bytes that could forge log lines or confuse a terminal.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}
