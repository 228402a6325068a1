package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// DecodeBody decodes a JSON request body into v strictly: the JSON content
// type (415 otherwise; it also keeps browsers from sending the request
// cross-site without a preflight), at most maxBytes (413), no unknown
// fields and nothing after the object (400).
func DecodeBody(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return Error{http.StatusUnsupportedMediaType, "Content-Type application/json is required"}
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return Error{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not application/json", ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
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
	return BadRequest("request body has data after the JSON object; expected exactly one object")
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
		return Error{http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
	case errors.Is(err, io.EOF):
		return BadRequest("request body is empty; expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("request body is truncated JSON; expected a complete JSON object")
	case errors.As(err, &syn):
		return BadRequest("request body is not valid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ) && typ.Field != "":
		return BadRequest("field %q must be a JSON %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return BadRequest("request body must be a JSON object, not %s", typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return BadRequest("unknown field %s in request body", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return BadRequest("request body: %v", err)
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
