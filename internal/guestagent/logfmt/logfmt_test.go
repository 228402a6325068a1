package logfmt

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestMatchesSlog checks that a line reads as slog's TextHandler writes it.
func TestMatchesSlog(t *testing.T) {
	at := time.Date(2026, 11, 22, 20, 40, 1, 123456789, time.UTC)
	var ours, theirs bytes.Buffer
	l := New(&ours, LevelInfo)
	l.now = func() time.Time { return at }
	kv := []any{"listen", "0.0.0.0:8080", "interval", time.Second, "n", 3, "err", errors.New("dial tcp: refused"),
		"empty", "", "quote", `a"b`, "ok", true, "ratio", 0.25, "big", uint64(1 << 63)}
	l.Info("agent started", kv...)

	h := slog.NewTextHandler(&theirs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.String(slog.TimeKey, at.Format("2006-01-02T15:04:05.000Z07:00"))
		}
		return a
	}})
	slog.New(h).Info("agent started", kv...)
	if ours.String() != theirs.String() {
		t.Errorf("ours:   %q\nslog's: %q", ours.String(), theirs.String())
	}
}

func TestLevels(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, LevelWarn)
	l.Info("hidden")
	l.Debug("hidden")
	l.Warn("shown", "k", "v")
	l.Error("also")
	if strings.Contains(b.String(), "hidden") || strings.Count(b.String(), "\n") != 2 {
		t.Errorf("level filter wrong:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "level=WARN msg=shown k=v") || !strings.Contains(b.String(), "level=ERROR msg=also") {
		t.Errorf("unexpected output:\n%s", b.String())
	}
	var nilLogger *Logger
	nilLogger.Info("no panic")
	if lv, ok := ParseLevel("WARNING"); !ok || lv != LevelWarn {
		t.Errorf("ParseLevel(WARNING) = %v, %v", lv, ok)
	}
	if _, ok := ParseLevel("loud"); ok {
		t.Error("ParseLevel accepted loud")
	}
}
