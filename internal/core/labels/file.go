package labels

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// FileName is the labels file a launcher leaves in the directory of a VM's
// API socket (inside the jail for a jailed VM): a JSON object of string to
// string, read by the host agent for a VM it discovers.
const FileName = "fcmon-labels.json"

// MaxFileBytes bounds the labels file.
const MaxFileBytes = 16 << 10

// ParseFile reads a labels file: one JSON object whose values are all
// strings, each label following the rules of Check. Anything else — an
// array, a number value, a key given twice, trailing data — is refused.
func ParseFile(data []byte) (Set, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%d bytes; at most %d", len(data), MaxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New(`expected a JSON object of string to string, such as {"tenant": "acme"}`)
	}
	s := Set{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		key := tok.(string) // an object's keys are strings, or Token failed
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		v, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("label %q: the value is not a string", clip(key))
		}
		if _, dup := s[key]; dup {
			return nil, fmt.Errorf("label %q is given twice", clip(key))
		}
		s[key] = v
		if len(s) > MaxLabels {
			return nil, fmt.Errorf("more than %d labels", MaxLabels)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the object")
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, nil
	}
	return s, nil
}
