package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Error is a failed database operation: which backend, what was being
// done, and the driver's error. It matches ErrUnavailable when the cause is
// the database not answering rather than the request.
type Error struct {
	Backend string // "sqlite" or "postgres"
	Op      string // what was being done, such as "listing vms"
	Err     error
	// Unavailable: the database could not be reached or is overloaded or
	// shutting down; the same request may well succeed later.
	Unavailable bool
}

func (e *Error) Error() string { return e.Backend + ": " + e.Op + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) report Unavailable.
func (e *Error) Is(target error) bool { return target == ErrUnavailable && e.Unavailable }

// fail wraps a driver error of the operation op.
func (s *sqlStore) fail(op string, err error) error {
	return &Error{Backend: s.dialect.name, Op: op, Err: err, Unavailable: unavailable(err)}
}

// unavailable reports whether err says the database did not answer —
// connection refused, reset or timed out, the server shutting down or out
// of connections, SQLite's file busy — as opposed to refusing the request.
func unavailable(err error) bool {
	var (
		ne  net.Error
		ce  *pgconn.ConnectError
		pe  *pgconn.PgError
		se  *sqlite.Error
		ope *net.OpError
	)
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ENOENT),
		errors.As(err, &ce), errors.As(err, &ne), errors.As(err, &ope):
		return true
	case errors.As(err, &pe):
		// Class 08 connection exception; 57P01-03 shutdown and cannot
		// connect now; 53300 too many connections.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "53300"
	case errors.As(err, &se):
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
			return true
		}
	}
	return pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "failed to connect")
}
