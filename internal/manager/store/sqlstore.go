package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// dialect holds what differs between the backends; the queries themselves
// are shared ($N placeholders, ON CONFLICT and RETURNING work in both).
type dialect struct {
	name string // "sqlite" or "postgres", for messages
	// migrations is the directory of embedded migrations for this backend.
	migrations string
	// lockMigrations runs first in each migration transaction so that two
	// processes starting together migrate one after the other; "" when
	// the transaction itself already excludes other writers.
	lockMigrations string
	// isForeignKeyViolation recognises the driver's error for a row that
	// references a missing VM.
	isForeignKeyViolation func(error) bool
	// inJSONArray is the condition "column is one of the strings of the
	// JSON array in placeholder p": one parameter for any number of ids.
	inJSONArray func(column, p string) string
}

// sqlStore implements Store over database/sql for both backends.
type sqlStore struct {
	dialect dialect
	write   *sql.DB // every write goes here
	read    *sql.DB // reads; the same pool as write unless the backend splits them
	now     func() time.Time
}

// Ping implements Store.
func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return s.fail("ping", err)
	}
	if s.write != s.read {
		if err := s.write.PingContext(ctx); err != nil {
			return s.fail("ping", err)
		}
	}
	return nil
}

// Backend implements Store.
func (s *sqlStore) Backend() string { return s.dialect.name }

// Close implements Store.
func (s *sqlStore) Close() error {
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// nowMs is the store's clock in Unix ms.
func (s *sqlStore) nowMs() int64 { return s.now().UnixMilli() }
