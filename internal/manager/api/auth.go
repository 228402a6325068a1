package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// subprotocolPrefix marks the token among a WebSocket client's offered
// subprotocols: browsers cannot set Authorization on a WebSocket, but they
// can offer "bearer.<token>" in Sec-WebSocket-Protocol.
const subprotocolPrefix = "bearer."

// requireToken wraps next so that it needs "Authorization: Bearer <token>"
// when the API has a token (401 otherwise).
func (a *API) requireToken(next http.Handler) http.Handler {
	if a.opt.Token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.tokenMatches(bearer(r)) {
			a.unauthorized(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireStreamToken is requireToken for WebSocket endpoints, which also
// take the token as ?token= or as a "bearer.<token>" subprotocol. Either is
// removed from the request before next sees it, so the token is never
// logged by the stream nor echoed back as the chosen subprotocol.
func (a *API) requireStreamToken(next http.Handler) http.Handler {
	if a.opt.Token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		query := r.URL.Query()
		fromQuery := query.Get("token")
		if query.Has("token") {
			query.Del("token")
			r.URL.RawQuery = query.Encode()
		}
		fromProtocol := stripTokenProtocol(r.Header)
		ok := a.tokenMatches(bearer(r))
		ok = a.tokenMatches(fromQuery) || ok
		ok = a.tokenMatches(fromProtocol) || ok
		if !ok {
			a.unauthorized(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *API) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="fcmon manager"`)
	a.writeError(w, r, APIError{http.StatusUnauthorized,
		"missing or wrong bearer token; send Authorization: Bearer <token> (the manager's --api-token)"})
}

// tokenMatches compares got with the API token in constant time. Hashing
// first makes the time independent of the lengths as well.
func (a *API) tokenMatches(got string) bool {
	if got == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(a.opt.Token))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// bearer returns the token of an "Authorization: Bearer" header, "" without
// one. The scheme is case-insensitive (RFC 9110).
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
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
