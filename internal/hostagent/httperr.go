package hostagent

import (
	"crypto/subtle"
	"net/http"

	"github.com/fcmon/fcmon/internal/core/httpapi"
)

// maxBodyBytes caps request bodies; an attach body is a few hundred bytes.
const maxBodyBytes = 64 << 10

// APIError is an error with the HTTP status it answers with. Handlers
// return it; writeError renders it as {"error": Message}.
type APIError struct {
	Status  int
	Message string
}

func (e APIError) Error() string   { return e.Message }
func (e APIError) HTTPStatus() int { return e.Status }

// handler and methods are httpapi's: a handler returns its error, and a
// method table dispatches (GET also answering HEAD).
type (
	handler = httpapi.Handler
	methods = httpapi.Methods
)

// serve turns handlers into an http.Handler that dispatches on the method
// (405 with Allow otherwise) and renders returned errors.
func (a *Agent) serve(m methods) http.Handler {
	return httpapi.Serve(m, 0, a.writeError)
}

// writeError renders err: an APIError with its status and message, anything
// else as a 500 whose details go to the log, not the client.
func (a *Agent) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, err, a.log, "internal error")
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	return httpapi.WriteJSON(w, status, v)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	return httpapi.DecodeBody(w, r, v, maxBodyBytes)
}

// requireToken wraps next so that it needs "Authorization: Bearer <token>"
// when a token is configured, comparing in constant time.
func (a *Agent) requireToken(next http.Handler) http.Handler {
	if a.token == "" {
		return next
	}
	want := []byte("Bearer " + a.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fcmon host-agent"`)
			a.writeError(w, r, APIError{http.StatusUnauthorized, "missing or wrong bearer token (send Authorization: Bearer <token>)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}
