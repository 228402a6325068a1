package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgresMaxConns bounds the pool; the manager's writes are small and few.
const postgresMaxConns = 8

// postgresMigrationLock is the pg_advisory_xact_lock key fcmon's migrations
// take, so that two managers starting together migrate one at a time.
const postgresMigrationLock = 0x66636d6f6e // "fcmon"

var postgresDialect = dialect{
	name:                  "postgres",
	migrations:            "migrations/postgres",
	lockMigrations:        fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", postgresMigrationLock),
	isForeignKeyViolation: postgresForeignKeyViolation,
	inJSONArray: func(column, p string) string {
		return column + " IN (SELECT jsonb_array_elements_text(" + p + "::jsonb))"
	},
}

// openPostgres connects through pgx to the server a postgres:// URL names
// and checks that it answers. The URL's password never appears in errors.
func openPostgres(ctx context.Context, databaseURL string) (*sqlStore, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message already hides the password.
		return nil, fmt.Errorf("postgres database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresMaxConns)
	db.SetMaxIdleConns(postgresMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to postgres %s: %w", describePostgres(cfg), err)
	}
	return &sqlStore{dialect: postgresDialect, write: db, read: db, now: time.Now}, nil
}

// describePostgres names the server and database of cfg without secrets.
func describePostgres(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("database %q on %s port %d", cfg.Database, cfg.Host, cfg.Port)
}

// postgresForeignKeyViolation reports whether err is PostgreSQL's
// foreign_key_violation (SQLSTATE 23503).
func postgresForeignKeyViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}
