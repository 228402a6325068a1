// Package logfmt is a small structured logger for the guest agent. Its lines
// have the shape of log/slog's TextHandler (time=… level=… msg=… key=value),
// so one log pipeline reads all of fcmon's programs, without linking slog,
// which alone would spend a quarter of the agent's size budget.
package logfmt

import (
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Level orders messages by severity.
type Level int

// The levels match log/slog's names.
const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// Logger writes one line per message to its writer. It is safe for
// concurrent use. A nil *Logger discards everything.
type Logger struct {
	mu  sync.Mutex
	w   io.Writer
	min Level
	now func() time.Time
	buf []byte
}

// New returns a Logger writing messages at min or above to w.
func New(w io.Writer, min Level) *Logger {
	return &Logger{w: w, min: min, now: time.Now}
}

// Debug logs msg at LevelDebug; kv alternates keys and values.
func (l *Logger) Debug(msg string, kv ...any) { l.log(LevelDebug, msg, kv) }

// Info logs msg at LevelInfo; kv alternates keys and values.
func (l *Logger) Info(msg string, kv ...any) { l.log(LevelInfo, msg, kv) }

// Warn logs msg at LevelWarn; kv alternates keys and values.
func (l *Logger) Warn(msg string, kv ...any) { l.log(LevelWarn, msg, kv) }

// Error logs msg at LevelError; kv alternates keys and values.
func (l *Logger) Error(msg string, kv ...any) { l.log(LevelError, msg, kv) }

func (l *Logger) log(level Level, msg string, kv []any) {
	if l == nil || level < l.min {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append(l.buf[:0], "time="...)
	b = l.now().UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, " level="...)
	b = append(b, levelName(level)...)
	b = append(b, " msg="...)
	b = appendText(b, msg)
	for i := 0; i < len(kv); i += 2 {
		key, _ := kv[i].(string)
		if key == "" {
			key = "!BADKEY"
		}
		b = append(b, ' ')
		b = append(b, key...)
		b = append(b, '=')
		if i+1 < len(kv) {
			b = appendValue(b, kv[i+1])
		}
	}
	b = append(b, '\n')
	l.buf = b
	l.w.Write(b)
}

func levelName(l Level) string {
	switch {
	case l >= LevelError:
		return "ERROR"
	case l >= LevelWarn:
		return "WARN"
	case l >= LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendText(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, v)
	case time.Duration:
		return append(b, v.String()...)
	case error:
		if v == nil {
			return append(b, "<nil>"...)
		}
		return appendText(b, v.Error())
	case interface{ String() string }:
		return appendText(b, v.String())
	case nil:
		return append(b, "<nil>"...)
	}
	return append(b, "!BADVALUE"...)
}

// appendText writes s bare when that is unambiguous and quoted otherwise,
// as slog's TextHandler does.
func appendText(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == utf8.RuneError || r <= ' ' || r == '=' || r == '"' || r == 0x7f || r == '\\' {
			return true
		}
	}
	return strings.ContainsAny(s, "\u00a0\u2028\u2029")
}

// ParseLevel maps "debug", "info", "warn" and "error" to a Level.
func ParseLevel(s string) (Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return LevelDebug, true
	case "info":
		return LevelInfo, true
	case "warn", "warning":
		return LevelWarn, true
	case "error":
		return LevelError, true
	}
	return LevelInfo, false
}
