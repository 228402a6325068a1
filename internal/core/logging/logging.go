// Package logging builds the log/slog logger of the host agent and the
// manager from their --log-level and --log-format flags. (The guest agent
// writes the same text format with internal/guestagent/logfmt, to stay small.)
package logging

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/fcmon/fcmon/internal/core/cli"
	"strings"
)

// New returns a logger writing to w at level ("debug", "info", "warn" or
// "error") in format ("text" or "json"), or an error naming the flag whose
// value is not one of those.
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q is not text or json", format)
}

// Flags registers --log-level and --log-format on fs.
func Flags(fs *cli.FlagSet, level, format *string) {
	fs.String(level, "log-level", "info", "least severe log level written: debug, info, warn or error")
	fs.String(format, "log-format", "text", "log format on stderr: text or json")
}
