package api

import (
	"net/http"
	"strings"

	"github.com/fcmon/fcmon/internal/core/bearer"
	"github.com/fcmon/fcmon/internal/core/httpapi"
)

// subprotocolPrefix marks the token among a WebSocket client's offered
// subprotocols: browsers cannot set Authorization on a WebSocket, but they
// can offer "bearer.<token>" in Sec-WebSocket-Protocol.
const subprotocolPrefix = "bearer."

// requireToken wraps next so that it needs "Authorization: Bearer <token>"
// when the API has a token (401 otherwise).
func (a *API) requireToken(next http.Handler) http.Handler {
	return httpapi.RequireToken(a.opt.Token, "manager", "--api-token", a.writeError, next)
}

// requireStream guards the WebSocket endpoints: a browser's Origin must
// name this manager or an --allowed-origins host (403 otherwise), and with
// a token the request needs it, as the Authorization header, ?token= or a
// "bearer.<token>" subprotocol. The token is removed from the request
// before next sees it, so it is never logged by the stream nor echoed back
// as the chosen subprotocol.
func (a *API) requireStream(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !httpapi.OriginAllowed(r, a.hosts, a.opt.AllowedOrigin) {
			a.writeError(w, r, httpapi.Errorf(http.StatusForbidden,
				"Origin %q may not open a stream; the manager's --allowed-origins lists other sites' origins that may", r.Header.Get("Origin")))
			return
		}
		if a.opt.Token == "" {
			next.ServeHTTP(w, r)
			return
		}
		r = r.Clone(r.Context())
		query := r.URL.Query()
		fromQuery := query.Get("token")
		if query.Has("token") {
			query.Del("token")
			r.URL.RawQuery = query.Encode()
		}
		fromProtocol := stripTokenProtocol(r.Header)
		ok := bearer.Check(r.Header.Get("Authorization"), a.opt.Token)
		ok = bearer.Equal(fromQuery, a.opt.Token) || ok
		ok = bearer.Equal(fromProtocol, a.opt.Token) || ok
		if !ok {
			httpapi.Unauthorized(w, r, "manager", "--api-token", a.writeError)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// stripTokenProtocol removes every "bearer.<token>" entry from the
// Sec-WebSocket-Protocol header and returns the last token found.
func stripTokenProtocol(h http.Header) string {
	var token string
	var keep []string
	for _, line := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(line, ",") {
			p = strings.TrimSpace(p)
			if t, ok := strings.CutPrefix(p, subprotocolPrefix); ok {
				token = t
			} else if p != "" {
				keep = append(keep, p)
			}
		}
	}
	h.Del("Sec-WebSocket-Protocol")
	if len(keep) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(keep, ", "))
	}
	return token
}
