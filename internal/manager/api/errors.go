package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// MaxBodyBytes caps request bodies: a VM registration is a few hundred
// bytes, so anything near the cap is a mistake or an attack.
const MaxBodyBytes = 64 << 10

// requestTimeout bounds writing a REST answer (reading the request is the
// server's --read-timeout's). WebSocket streams are exempt: they live as
// long as the client.
const requestTimeout = 30 * time.Second

// handler and methods are httpapi's: a handler returns its error, and a
// method table dispatches (GET also answering HEAD).
type (
	handler = httpapi.Handler
	methods = httpapi.Methods
)

var badRequest = httpapi.BadRequest

// serve turns m into an http.Handler for a REST endpoint: it dispatches on
// the method (405 with Allow otherwise), bounds the answer's writing by
// requestTimeout and renders a returned error.
func (a *API) serve(m methods) http.Handler {
	return httpapi.Serve(m, requestTimeout, a.writeError)
}

// serveStream is serve for WebSocket endpoints: it lifts the server's
// read deadline (--read-timeout), which would otherwise end every stream
// that long after it opened; the hub has its own pings and write timeouts.
func (a *API) serveStream(m methods) http.Handler {
	h := httpapi.Serve(m, 0, a.writeError)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).SetReadDeadline(time.Time{})
		h.ServeHTTP(w, r)
	})
}

// writeError renders err: an httpapi.Error with its status and message,
// a database that does not answer as 503, anything else as a 500 whose
// details go to the log, not to the client.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		a.log.Warn("the database does not answer", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "5")
		err = httpapi.Errorf(http.StatusServiceUnavailable,
			"the %s database does not answer; the registry cannot be changed or read from it now, try again later (live samples and /metrics are still served from memory)",
			a.backend())
	}
	httpapi.WriteError(w, r, err, a.log, "internal error; the manager's log has the details")
}

// backend names the database for messages: "postgres" or "sqlite".
func (a *API) backend() string { return a.opt.Store.Backend() }

func writeJSON(w http.ResponseWriter, status int, v any) error {
	return httpapi.WriteJSON(w, status, v)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	return httpapi.DecodeBody(w, r, v, MaxBodyBytes)
}

// storeError maps the store's sentinel errors to statuses; an unavailable
// database passes through to writeError.
func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, "%v; GET /v1/vms lists the registered VMs", err)
	case errors.Is(err, store.ErrExists):
		return httpapi.Errorf(http.StatusConflict, "%v; choose another id or omit it to have one generated", err)
	case errors.Is(err, store.ErrInvalid):
		return badRequest("%v", err)
	}
	return err
}

func unavailable(what string) error {
	return httpapi.Errorf(http.StatusServiceUnavailable, "%s is not available in this manager", what)
}

func notFound(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Errorf(http.StatusNotFound, "no endpoint %s; see GET / for the API", r.URL.Path)
}
