package serve

import (
	"net/http"

	"github.com/fcmon/fcmon/internal/core/httpapi"
)

// maxBodyBytes caps request bodies; an attach body is a few hundred bytes.
const maxBodyBytes = 64 << 10

// handler and methods are httpapi's: a handler returns its error, and a
// method table dispatches (GET also answering HEAD).
type (
	handler = httpapi.Handler
	methods = httpapi.Methods
)

var badRequest = httpapi.BadRequest

// serve turns handlers into an http.Handler that dispatches on the method
// (405 with Allow otherwise) and renders returned errors.
func (a *api) serve(m methods) http.Handler {
	return httpapi.Serve(m, 0, a.writeError)
}

// writeError renders err: an httpapi.Error with its status and message,
// anything else as a 500 whose details go to the log, not the client.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, err, a.Log, "internal error")
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	return httpapi.WriteJSON(w, status, v)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	return httpapi.DecodeBody(w, r, v, maxBodyBytes)
}

// requireToken wraps next so that it needs the agent's bearer token when
// one is configured.
func (a *api) requireToken(next http.Handler) http.Handler {
	return httpapi.RequireToken(a.Token, "host agent", "--token-file", a.writeError, next)
}
