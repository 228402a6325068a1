// Package httpapi is the request plumbing shared by the host agent's and
// the manager's JSON APIs, in the style of caddy's admin API: handlers
// return an error, and one function renders every error as
// {"error": "message"} with its status; a method table answers 405 with
// Allow; request bodies are decoded strictly; one bearer-token check and
// one Host-header check guard the routes; Serve runs a server until its
// context ends.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Error is an error that answers with an HTTP status; its Message is what
// the client reads. Handlers return it, WriteError renders it.
type Error struct {
	Status  int
	Message string
}

func (e Error) Error() string { return e.Message }

// Errorf is an Error with a formatted message.
func Errorf(status int, format string, args ...any) error {
	return Error{status, fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 with a formatted message.
func BadRequest(format string, args ...any) error {
	return Errorf(http.StatusBadRequest, format, args...)
}

// Handler is an HTTP handler that returns its error instead of writing it,
// so that every error response has one shape.
type Handler func(w http.ResponseWriter, r *http.Request) error

// Methods maps HTTP methods to handlers; GET also answers HEAD.
type Methods map[string]Handler

// Serve turns m into an http.Handler: it dispatches on the method (405 with
// Allow otherwise), bounds the writing of the answer by timeout when it is
// positive (reading the request is the server's ReadTimeout's), and hands a
// returned error to onError.
func Serve(m Methods, timeout time.Duration, onError func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if timeout > 0 {
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout))
		}
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		h, ok := m[method]
		if !ok {
			h = func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Allow", allow(m))
				return Errorf(http.StatusMethodNotAllowed, "method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow(m))
			}
		}
		if err := h(w, r); err != nil {
			onError(w, r, err)
		}
	})
}

// allow lists m's methods for the Allow header, HEAD with GET.
func allow(m Methods) string {
	var names []string
	for k := range m {
		names = append(names, k)
		if k == http.MethodGet {
			names = append(names, http.MethodHead)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// WriteError renders err: an Error with its status and message, anything
// else as a 500 with internalMessage, its details going to log, not to the
// client.
func WriteError(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger, internalMessage string) {
	var e Error
	status, message := http.StatusInternalServerError, internalMessage
	if errors.As(err, &e) {
		status, message = e.Status, e.Message
	} else {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteJSON(w, status, map[string]string{"error": message})
}

// WriteJSON writes v as the response with status. Once the status line is
// out an error cannot reach the client, so write errors are dropped.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
	return nil
}
