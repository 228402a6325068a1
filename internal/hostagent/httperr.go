package hostagent

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// maxBodyBytes caps request bodies; an attach body is a few hundred bytes.
const maxBodyBytes = 64 << 10

// APIError is an error with the HTTP status it answers with. Handlers
// return it; writeError renders it as {"error": Message}.
type APIError struct {
	Status  int
	Message string
}

func (e APIError) Error() string { return e.Message }

// handler is an HTTP handler that returns its error instead of writing it,
// so that every error response has the same shape.
type handler func(w http.ResponseWriter, r *http.Request) error

// methods maps HTTP methods to handlers; GET also answers HEAD.
type methods map[string]handler

// serve turns handlers into an http.Handler that dispatches on the method
// (405 with Allow otherwise) and renders returned errors.
func (a *Agent) serve(m methods) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		h, ok := m[method]
		if !ok {
			h = func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Allow", allow(m))
				return APIError{http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed here (allowed: %s)", r.Method, allow(m))}
			}
		}
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

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
// else as a 500 whose details go to the log, not the client.
func (a *Agent) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae APIError
	if !errors.As(err, &ae) {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = APIError{http.StatusInternalServerError, "internal error"}
	}
	writeJSON(w, ae.Status, map[string]string{"error": ae.Message})
}

// writeJSON writes v with status. Encoding errors cannot be reported to
// a client that already has the status line, so they are dropped.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
	return nil
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

// decodeBody decodes a JSON request body into v strictly: JSON content
// type (which also keeps browsers from sending it cross-site without a
// preflight), a capped size, no unknown fields, nothing after the object.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return APIError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not application/json", ct)}
		}
	} else {
		return APIError{http.StatusUnsupportedMediaType, "Content-Type application/json is required"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return APIError{http.StatusBadRequest, "request body has data after the JSON object"}
	}
	return nil
}

// bodyError turns a JSON decoding error into a message naming the problem.
func bodyError(err error) error {
	var (
		syn     *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
		message string
	)
	switch {
	case errors.As(err, &tooBig):
		return APIError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
	case errors.Is(err, io.EOF):
		message = "request body is empty; expected a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		message = "request body is truncated JSON"
	case errors.As(err, &syn):
		message = fmt.Sprintf("request body is not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ) && typ.Field != "":
		message = fmt.Sprintf("field %q must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		message = fmt.Sprintf("request body must be a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		message = "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	default:
		message = "request body: " + err.Error()
	}
	return APIError{http.StatusBadRequest, message}
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "bool":
		return "boolean"
	}
	return goKind
}
