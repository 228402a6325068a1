package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds each backend's migrations, NNNN_name.sql, numbered
// from 1 without gaps. A released migration is never edited: a change to
// the schema is a new file in both directories.
//
//go:embed migrations
var migrationFiles embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// schemaMigrationsDDL creates the table recording applied migrations; its
// text is valid in both backends.
const schemaMigrationsDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_ms BIGINT  NOT NULL
)`

// loadMigrations reads the migrations in dir of fsys, in version order, and
// checks that they are numbered 1, 2, 3... without gaps or duplicates.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name is not NNNN_description.sql", dir, name)
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration %s/%s: want version %d next", dir, name, len(ms)+1)
		}
		text, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading migration: %w", err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text)})
	}
	return ms, nil
}

// migrate brings the database to the newest schema this binary knows,
// applying each missing migration in its own transaction together with its
// schema_migrations row, so a failure leaves the database at the previous
// version. Running it on an up-to-date database changes nothing; a database
// at a version newer than the binary knows gives ErrSchemaTooNew.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	ms, err := loadMigrations(migrationFiles, d.migrations)
	if err != nil {
		return err
	}
	for {
		done, err := migrateStep(ctx, db, d, ms)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next missing migration, or reports done when
// there is none. The version is read inside the step's transaction, under
// the dialect's lock, so concurrent migrators never apply one twice.
func migrateStep(ctx context.Context, db *sql.DB, d dialect, ms []migration) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("%s: starting migration: %w", d.name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, d.lockMigrations); err != nil {
			return false, fmt.Errorf("%s: locking for migration: %w", d.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, schemaMigrationsDDL); err != nil {
		return false, fmt.Errorf("%s: creating schema_migrations: %w", d.name, err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("%s: reading schema version: %w", d.name, err)
	}
	switch {
	case current > len(ms):
		return false, fmt.Errorf("%s: database schema version %d, this fcmon knows up to %d: %w (upgrade fcmon)",
			d.name, current, len(ms), ErrSchemaTooNew)
	case current == len(ms):
		return true, tx.Commit()
	}
	m := ms[current]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("%s: applying migration %s: %w", d.name, m.name, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)`,
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return false, fmt.Errorf("%s: recording migration %s: %w", d.name, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("%s: committing migration %s: %w", d.name, m.name, err)
	}
	return false, nil
}
