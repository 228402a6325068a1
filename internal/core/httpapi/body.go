package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// DecodeBody decodes a JSON request body into v strictly: the JSON content
// type (415 otherwise; it also keeps browsers from sending the request
// cross-site without a preflight), at most maxBytes (413), valid UTF-8,
// one object whose keys are exactly the fields' names — no unknown field,
// no case variant of a known one, no key twice — and nothing after it
// (400). encoding/json alone would take "Name" for "name", let the last of
// two equal keys win and turn invalid UTF-8 into U+FFFD without a word.
func DecodeBody(w http.ResponseWriter, r *http.Request, v any, maxBytes int64) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return Errorf(http.StatusUnsupportedMediaType, "Content-Type application/json is required")
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return Errorf(http.StatusUnsupportedMediaType, "Content-Type %q is not application/json", ct)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		return bodyError(err)
	}
	return DecodeStrict(data, v)
}

// DecodeStrict is DecodeBody's check and decoding of a body already read.
func DecodeStrict(data []byte, v any) error {
	if !utf8.Valid(data) {
		return BadRequest("request body is not valid UTF-8")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return BadRequest("request body is empty; expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := checkKeys(dec, reflect.TypeOf(v), ""); err != nil && !errors.Is(err, errSyntax) {
		return err
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if dec.More() {
		return BadRequest("request body has data after the JSON object; expected exactly one object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return BadRequest("request body has data after the JSON object; expected exactly one object")
	}
	return nil
}

// errSyntax stops checkKeys at malformed JSON: the decoding that follows
// reports it. (Going on instead would loop: a Decoder in error keeps
// saying More.)
var errSyntax = errors.New("malformed JSON")

// checkKeys reads one JSON value from dec, refusing a key given twice in
// an object and, where the value goes into a struct, a key that is not
// exactly a field's name. t is the Go type the value decodes into (nil
// when unknown). At a syntax error it returns errSyntax.
func checkKeys(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return errSyntax
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := checkKeys(dec, elem, path+"[]"); err != nil {
				return err
			}
		}
	case '{':
		fields := jsonFields(t)
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return errSyntax
			}
			key, _ := kt.(string)
			name := path + key
			if seen[key] {
				return BadRequest("key %q appears twice in the request body; give each field once", name)
			}
			seen[key] = true
			var ft reflect.Type
			if fields != nil {
				var known bool
				if ft, known = fields[key]; !known {
					for f := range fields {
						if strings.EqualFold(f, key) {
							return BadRequest("unknown field %q in request body; did you mean %q? (field names are case-sensitive)", name, f)
						}
					}
					return BadRequest("unknown field %q in request body", name)
				}
			} else if t != nil && t.Kind() == reflect.Map {
				ft = t.Elem()
			}
			if err := checkKeys(dec, ft, name+"."); err != nil {
				return err
			}
		}
	}
	dec.Token() // the closing delimiter
	return nil
}

// jsonFields maps the JSON names of a struct type's fields (embedded
// structs flattened) to their types; nil when t is not a struct.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range jsonFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
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
		return Errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", tooBig.Limit)
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
	return BadRequest("request body: %s", fmt.Sprint(err))
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
