package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Open connects to the database a URL names, applies any schema migrations
// it lacks and returns the Store. The URL is one of
//
//	sqlite:PATH              a SQLite file (created when missing), e.g. sqlite:data/fcmon.db
//	sqlite://PATH            the same; sqlite:///abs/path.db for an absolute path
//	postgres://...           a PostgreSQL connection URL, as libpq takes it
//	postgresql://...         the same
//
// A URL of any other form, or a database migrated by a newer fcmon
// (ErrSchemaTooNew), is refused with a one-line error.
func Open(ctx context.Context, databaseURL string) (Store, error) {
	scheme, rest, ok := strings.Cut(databaseURL, ":")
	if !ok || !validScheme(scheme) {
		// The value itself stays out of the message: a libpq key=value
		// string would show its password.
		return nil, errors.New("database URL has no scheme: want sqlite:PATH or postgres://...")
	}
	var (
		s   *sqlStore
		err error
	)
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		s, err = openSQLite(ctx, sqlitePath(rest))
	case "postgres", "postgresql":
		s, err = openPostgres(ctx, databaseURL)
	default:
		return nil, fmt.Errorf("database URL scheme %q is not supported: want sqlite:PATH or postgres://...", scheme)
	}
	if err != nil {
		return nil, oneLine{err}
	}
	if err := migrate(ctx, s.write, s.dialect); err != nil {
		s.Close()
		return nil, oneLine{err}
	}
	return s, nil
}

// oneLine keeps a driver's multi-line message (pgx lists every address it
// tried on a line of its own) to one line, as a startup error should be.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	var b strings.Builder
	for line := range strings.Lines(e.err.Error()) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

func (e oneLine) Unwrap() error { return e.err }

// sqlitePath turns what follows "sqlite:" into a file path: "//" before the
// path is the URL form's empty authority.
func sqlitePath(rest string) string {
	return strings.TrimPrefix(rest, "//")
}

// validScheme reports whether s has the shape of a URL scheme (RFC 3986:
// a letter, then letters, digits, "+", "-" or ".").
func validScheme(s string) bool {
	for i, c := range s {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}
