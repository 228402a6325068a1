// Package labels is a VM's labels — the map of string to string operators
// slice a fleet by (tenant, template, app, region) — their rules, the
// selectors that pick VMs by them, and the labels file a launcher leaves
// beside a VM's API socket. The manager and the host agent share it.
package labels

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits of a VM's labels.
const (
	MaxLabels     = 32
	MaxValueBytes = 256
	MaxKeyBytes   = 64
)

// Reserved are the names fcmon's own series and documents carry beside a
// VM's labels: a label of that name would clash with them on
// fcmon_vm_info and every series it is copied onto.
var Reserved = []string{"vm_id", "vm_name", "host", "host_id", "instance", "job"}

// Set is a VM's labels. A nil Set has none.
type Set map[string]string

// CheckKey reports why key cannot name a label: the Prometheus label-name
// rules ([a-zA-Z_][a-zA-Z0-9_]*, at most MaxKeyBytes), the reserved
// prefixes "__" and "fcmon_", and the Reserved names.
func CheckKey(key string) error {
	switch {
	case key == "":
		return errors.New("a label name is empty; expected [a-zA-Z_][a-zA-Z0-9_]* such as tenant")
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("label name %q is %d bytes long; at most %d", clip(key), len(key), MaxKeyBytes)
	case !validKey(key):
		return fmt.Errorf("label name %q breaks Prometheus' rule for label names, [a-zA-Z_][a-zA-Z0-9_]*", clip(key))
	case strings.HasPrefix(key, "__"):
		return fmt.Errorf("label name %q starts with \"__\", which Prometheus reserves", key)
	case strings.HasPrefix(key, "fcmon_"):
		return fmt.Errorf("label name %q starts with \"fcmon_\", which fcmon reserves", key)
	case slices.Contains(Reserved, key):
		return fmt.Errorf("label name %q is one of fcmon's own series labels (%s); choose another", key, strings.Join(Reserved, ", "))
	}
	return nil
}

// CheckValue reports why v cannot be a label's value: empty (an empty
// value is no label in Prometheus), over MaxValueBytes, not UTF-8, or
// holding a control character.
func CheckValue(key, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("label %q has an empty value; leave the label out instead", key)
	case len(v) > MaxValueBytes:
		return fmt.Errorf("label %q's value is %d bytes long; at most %d", key, len(v), MaxValueBytes)
	case !utf8.ValidString(v):
		return fmt.Errorf("label %q's value is not UTF-8", key)
	case strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return fmt.Errorf("label %q's value holds a control character", key)
	}
	return nil
}

// Check reports the first rule s breaks, keys in order so the message is
// the same every time.
func (s Set) Check() error {
	if len(s) > MaxLabels {
		return fmt.Errorf("%d labels; at most %d", len(s), MaxLabels)
	}
	for _, k := range slices.Sorted(maps.Keys(s)) {
		if err := CheckKey(k); err != nil {
			return err
		}
		if err := CheckValue(k, s[k]); err != nil {
			return err
		}
	}
	return nil
}

// Equal reports whether s and o hold the same labels (nil and empty alike).
func (s Set) Equal(o Set) bool { return maps.Equal(s, o) }

// Merge returns the labels of sets in order, a later set's value winning
// for a key both hold; nil when none holds any.
func Merge(sets ...Set) Set {
	var out Set
	for _, s := range sets {
		for k, v := range s {
			if out == nil {
				out = Set{}
			}
			out[k] = v
		}
	}
	return out
}

// String is the labels as k=v pairs in key order, comma separated.
func (s Set) String() string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(s)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + s[k])
	}
	return b.String()
}

// Encode is the stored form of s: a JSON object, "" for none.
func (s Set) Encode() string {
	if len(s) == 0 {
		return ""
	}
	b, _ := json.Marshal(map[string]string(s)) // a map of strings always encodes
	return string(b)
}

// Decode reads what Encode wrote.
func Decode(text string) (Set, error) {
	if text == "" {
		return nil, nil
	}
	var s Set
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return nil, fmt.Errorf("stored labels: %w", err)
	}
	if len(s) == 0 {
		return nil, nil
	}
	return s, nil
}

func validKey(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// seriesLabels are the label names fcmon's series carry besides Reserved:
// a label copied onto them cannot take one.
var seriesLabels = []string{"source", "rates_source", "memory_source", "fcmon_role"}

// MaxCopied bounds the labels copied onto every series: each multiplies
// nothing (one value per VM) but lengthens every line of every scrape.
const MaxCopied = 8

// ParseCopied reads a comma-separated list of label names to copy onto
// every VM series (--prometheus-labels): each a valid label name, none
// of fcmon's own series labels, none twice, at most MaxCopied.
func ParseCopied(s string) ([]string, error) {
	var out []string
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if err := CheckKey(k); err != nil {
			return nil, err
		}
		if slices.Contains(seriesLabels, k) {
			return nil, fmt.Errorf("label name %q is one of fcmon's series labels (%s); it cannot be copied onto them", k, strings.Join(seriesLabels, ", "))
		}
		if slices.Contains(out, k) {
			return nil, fmt.Errorf("label name %q is listed twice", k)
		}
		out = append(out, k)
	}
	if len(out) > MaxCopied {
		return nil, fmt.Errorf("%d labels; at most %d are copied onto every series (the rest are on fcmon_vm_info)", len(out), MaxCopied)
	}
	return out, nil
}
