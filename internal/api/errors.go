package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
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

func (e APIError) Error() string { return e.Message }

// badRequest is a 400 with a formatted message.
func badRequest(format string, args ...any) error {
	return APIError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// handler is an HTTP handler that returns its error instead of writing it,
// so every error response has one shape (as caddy's admin API does).
type handler func(w http.ResponseWriter, r *http.Request) error

// methods maps HTTP methods to handlers; GET also answers HEAD.
type methods map[string]handler

// serve turns m into an http.Handler for a REST endpoint: it dispatches on
// the method (405 with Allow otherwise), bounds the request's I/O by
// requestTimeout and renders a returned error.
func (a *API) serve(m methods) http.Handler {
	return a.dispatch(m, true)
}

// serveStream is serve for WebSocket endpoints, without the I/O deadline.
func (a *API) serveStream(m methods) http.Handler {
	return a.dispatch(m, false)
}

func (a *API) dispatch(m methods, deadline bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if deadline {
			rc := http.NewResponseController(w)
			rc.SetReadDeadline(time.Now().Add(requestTimeout))
			rc.SetWriteDeadline(time.Now().Add(requestTimeout))
		}
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		h, ok := m[method]
		if !ok {
			h = func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Allow", allow(m))
				return APIError{http.StatusMethodNotAllowed,
					fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow(m))}
			}
		}
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// allow lists m's methods for the Allow header, HEAD with GET.
func allow(m methods) string {
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

// writeError renders err: an APIError with its status and message, anything
// else as a 500 whose details go to the log, not to the client.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae APIError
	if !errors.As(err, &ae) {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = APIError{http.StatusInternalServerError, "internal error; the manager's log has the details"}
	}
	writeJSON(w, ae.Status, map[string]string{"error": ae.Message})
}

// writeJSON writes v as the response with status. Once the status line is
// out an error cannot reach the client, so write errors are dropped.
func writeJSON(w http.ResponseWriter, status int, v any) error {
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

// decodeBody decodes a JSON request body into v strictly: the JSON content
// type (415 otherwise; it also keeps browsers from sending the request
// cross-site without a preflight), at most MaxBodyBytes (413), no unknown
// fields and nothing after the object (400).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return APIError{http.StatusUnsupportedMediaType, "Content-Type application/json is required"}
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return APIError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not application/json", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case err == io.EOF:
		return nil
	case err != nil:
		if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
			return bodyError(err)
		}
	}
	return badRequest("request body has data after the JSON object; expected exactly one object")
}

// bodyError turns a JSON decoding error into a message naming the problem.
func bodyError(err error) error {
	var (
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return APIError{http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty; expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("request body is truncated JSON; expected a complete JSON object")
	case errors.As(err, &syn):
		return badRequest("request body is not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ) && typ.Field != "":
		return badRequest("field %q must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return badRequest("request body must be a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return badRequest("unknown field %s in request body", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return badRequest("request body: %v", err)
}

// jsonKind names the JSON type a Go kind is decoded from.
func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "bool":
		return "boolean"
	case goKind == "ptr":
		return "value of another type"
	}
	return goKind
}
