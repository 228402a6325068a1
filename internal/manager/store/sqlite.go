package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteBusyTimeout is how long a connection waits for another process's
// lock before failing with SQLITE_BUSY. Within one process writes never wait
// on SQLite's lock: they queue for the single writer connection instead.
const sqliteBusyTimeout = 10 * time.Second

// sqliteReaders bounds the read connections; WAL lets them run beside the
// writer.
const sqliteReaders = 4

var sqliteDialect = dialect{
	name:       "sqlite",
	migrations: "migrations/sqlite",
	// The writer's transactions are BEGIN IMMEDIATE: they hold the write
	// lock from the start, which is all a migration needs.
	lockMigrations:        "",
	isForeignKeyViolation: sqliteForeignKeyViolation,
	inJSONArray: func(column, p string) string {
		return column + " IN (SELECT value FROM json_each(" + p + "))"
	},
}

// openSQLite opens the file at path (creating it when missing) with two
// pools: one writer connection, so concurrent writes in this process are
// serialised by database/sql instead of failing with SQLITE_BUSY, and a few
// read-only connections. Both run in WAL mode with foreign keys enforced.
func openSQLite(ctx context.Context, path string) (*sqlStore, error) {
	if err := checkSQLitePath(path); err != nil {
		return nil, err
	}
	write, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The writer connects first: it turns WAL on, which the readers need.
	if err := pingBusy(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("opening sqlite database %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(sqliteReaders)
	read.SetMaxIdleConns(sqliteReaders)
	read.SetConnMaxIdleTime(5 * time.Minute)
	return &sqlStore{dialect: sqliteDialect, write: write, read: read, now: time.Now}, nil
}

// pingBusy connects db, trying again while the file is busy: switching a
// new file to WAL takes a lock for which SQLite calls no busy handler, so
// processes opening the same new database together can see SQLITE_BUSY at
// once. It gives up after sqliteBusyTimeout, as a busy statement would.
func pingBusy(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteBusyTimeout)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// checkSQLitePath refuses what SQLite would report obscurely or handle in a
// surprising way: an empty path, an in-memory database (the two pools would
// see different databases), query parameters and a missing directory.
func checkSQLitePath(path string) error {
	switch {
	case path == "":
		return errors.New("sqlite database URL has no path: want sqlite:PATH")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return fmt.Errorf("sqlite database %q is not supported: want sqlite:PATH naming a file", path)
	case strings.ContainsAny(path, "?#"):
		return fmt.Errorf("sqlite database path %q has query parameters: want sqlite:PATH naming a file", path)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("sqlite database directory %s: %w", dir, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("sqlite database directory %s is not a directory", dir)
	}
	return nil
}

// sqliteDSN is the modernc.org/sqlite connection string for path. The
// driver splits the name at '?', so the path itself must not contain one
// (checkSQLitePath refuses it).
func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(sqliteBusyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "1")
	if readOnly {
		q.Set("_query_only", "1")
	} else {
		// WAL is a property of the file; setting it once suffices, and
		// NORMAL is the durable-to-crash setting WAL is designed for.
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL")
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// sqliteForeignKeyViolation reports whether err is SQLite's foreign key
// constraint failure.
func sqliteForeignKeyViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
