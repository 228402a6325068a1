// Package promtext writes the Prometheus text exposition format (version
// 0.0.4) without the client library, for the guest agent's size budget.
// Label values and help texts are escaped as the format requires, so any
// interface name or mount point yields parseable output.
package promtext

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// ContentType is the media type of the format Writer produces.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Writer appends metric families to a byte slice. Each family is started
// with Family and followed by all of its samples: the format forbids a
// family's samples from being split up, and Writer relies on the caller
// for that order.
type Writer struct {
	B    []byte
	name string
}

// Family starts the metric family name of type typ ("counter", "gauge",
// "untyped") with its help text.
func (w *Writer) Family(name, typ, help string) {
	w.name = name
	w.B = append(w.B, "# HELP "...)
	w.B = append(w.B, name...)
	w.B = append(w.B, ' ')
	w.B = appendEscaped(w.B, help, false)
	w.B = append(w.B, "\n# TYPE "...)
	w.B = append(w.B, name...)
	w.B = append(w.B, ' ')
	w.B = append(w.B, typ...)
	w.B = append(w.B, '\n')
}

// Sample writes one sample of the current family; labels alternate names
// and values.
func (w *Writer) Sample(v float64, labels ...string) {
	w.head(labels)
	w.B = AppendValue(w.B, v)
	w.B = append(w.B, '\n')
}

// SampleUint writes one sample with an integer value, exactly.
func (w *Writer) SampleUint(v uint64, labels ...string) {
	w.head(labels)
	w.B = strconv.AppendUint(w.B, v, 10)
	w.B = append(w.B, '\n')
}

func (w *Writer) head(labels []string) {
	w.B = append(w.B, w.name...)
	if len(labels) >= 2 {
		w.B = append(w.B, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				w.B = append(w.B, ',')
			}
			w.B = append(w.B, labels[i]...)
			w.B = append(w.B, '=', '"')
			w.B = appendEscaped(w.B, labels[i+1], true)
			w.B = append(w.B, '"')
		}
		w.B = append(w.B, '}')
	}
	w.B = append(w.B, ' ')
}

// AppendValue appends v as the format writes floats, including NaN and ±Inf.
func AppendValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped escapes backslash and newline (and, in label values, the
// double quote) and replaces invalid UTF-8, which parsers reject.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '"' && quote:
			b = append(b, '\\', '"')
		default:
			b = append(b, c)
		}
		i++
	}
	return b
}
