package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpapi"
)

// MaxBodyBytes caps request bodies: a VM registration is a few hundred
// bytes, so anything near the cap is a mistake or an attack.
const MaxBodyBytes = 64 << 10

// requestTimeout bounds reading a REST request's body and writing its
// answer. WebSocket streams are exempt: they live as long as the client.
const requestTimeout = 30 * time.Second

// APIError is an error with the HTTP status it answers with. Handlers
// return it; writeError renders every error as {"error": Message}.
type APIError struct {
	Status  int
	Message string
}

func (e APIError) Error() string   { return e.Message }
func (e APIError) HTTPStatus() int { return e.Status }

// badRequest is a 400 with a formatted message.
func badRequest(format string, args ...any) error {
	return APIError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// handler and methods are httpapi's: a handler returns its error, and a
// method table dispatches (GET also answering HEAD).
type (
	handler = httpapi.Handler
	methods = httpapi.Methods
)

// serve turns m into an http.Handler for a REST endpoint: it dispatches on
// the method (405 with Allow otherwise), bounds the request's I/O by
// requestTimeout and renders a returned error.
func (a *API) serve(m methods) http.Handler {
	return httpapi.Serve(m, requestTimeout, a.writeError)
}

// serveStream is serve for WebSocket endpoints, without the I/O deadline.
func (a *API) serveStream(m methods) http.Handler {
	return httpapi.Serve(m, 0, a.writeError)
}

// writeError renders err: an APIError with its status and message, anything
// else as a 500 whose details go to the log, not to the client.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, err, a.log, "internal error; the manager's log has the details")
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	return httpapi.WriteJSON(w, status, v)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	return httpapi.DecodeBody(w, r, v, MaxBodyBytes)
}
