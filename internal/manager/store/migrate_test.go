package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fcmon/fcmon/internal/core/labels"
)

func testRestart(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	vm := mustCreate(t, s, VM{ID: idA, Name: "a", GuestIP: "10.0.0.9", VMMPID: 77, Labels: labels.Set{"tenant": "acme"}})
	mustUpsert(t, s, rollup(idA, 1, 1), rollup(idA, 2, 2))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openStore(t, url)
	if got, err := s.GetVM(ctx, idA); err != nil || !reflect.DeepEqual(got, vm) {
		t.Errorf("after reopening, GetVM = %+v, %v; want %+v", got, err, vm)
	}
	want := []Rollup{rollup(idA, 1, 1), rollup(idA, 2, 2)}
	if got := mustRollups(t, s, idA, 0, 10*minute); !reflect.DeepEqual(got, want) {
		t.Errorf("after reopening, rollups %+v, want %+v", got, want)
	}
	// A restart may rewrite the minute in progress.
	mustUpsert(t, s, rollup(idA, 2, 5))
	if got := mustRollups(t, s, idA, 2*minute, 3*minute); len(got) != 1 || got[0].CPU.Avg != 5 {
		t.Errorf("rewriting minute 2 after reopening: %+v", got)
	}
}

func testMigrationsIdempotent(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	ms, err := loadMigrations(migrationFiles, s.dialect.migrations)
	if err != nil {
		t.Fatal(err)
	}
	applied := func(s *sqlStore) string {
		var names string
		rows, err := s.read.QueryContext(ctx, `SELECT version, name, applied_ms FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var v, ms int64
			var name string
			if err := rows.Scan(&v, &name, &ms); err != nil {
				t.Fatal(err)
			}
			names += fmt.Sprintf("%d %s %d;", v, name, ms)
		}
		return names
	}
	before := applied(s)
	if n := count(t, s, `SELECT COUNT(*) FROM schema_migrations`); n != len(ms) {
		t.Fatalf("%d migrations recorded, want %d", n, len(ms))
	}
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	if err := migrate(ctx, s.write, s.dialect); err != nil {
		t.Fatalf("migrate on a current database: %v", err)
	}
	s.Close()
	s = openStore(t, url)
	if after := applied(s); after != before {
		t.Errorf("reopening changed schema_migrations: %q, was %q", after, before)
	}
	if _, err := s.GetVM(ctx, idA); err != nil {
		t.Errorf("reopening lost data: %v", err)
	}
}

func testNewerSchema(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	if _, err := s.write.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)`,
		999, "0999_from_the_future.sql", 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, url)
	wantErr(t, "Open of a newer schema", err, ErrSchemaTooNew)
	if err != nil && !strings.Contains(err.Error(), "999") {
		t.Errorf("error %q does not name the database's version", err)
	}
}

func testConcurrentOpens(t *testing.T, url string) {
	const n = 4
	stores := make(chan Store, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := Open(context.Background(), url)
			if err != nil {
				errs <- err
				return
			}
			stores <- s
		}()
	}
	for range n {
		select {
		case err := <-errs:
			t.Errorf("concurrent Open: %v", err)
		case s := <-stores:
			t.Cleanup(func() { s.Close() })
		}
	}
	s := openStore(t, url)
	ms, _ := loadMigrations(migrationFiles, s.dialect.migrations)
	if got := count(t, s, `SELECT COUNT(*) FROM schema_migrations`); got != len(ms) {
		t.Errorf("%d migrations recorded after concurrent opens, want %d", got, len(ms))
	}
}

func TestLoadMigrations(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1")}
	for _, c := range []struct {
		name  string
		files []string
		want  string // error substring, "" for success
	}{
		{"ordered", []string{"0001_a.sql", "0002_b.sql", "README"}, ""},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "want version 2"},
		{"duplicate", []string{"0001_a.sql", "0001_b.sql"}, "want version 2"},
		{"zero", []string{"0000_a.sql"}, "not NNNN_description.sql"},
		{"no number", []string{"init.sql"}, "not NNNN_description.sql"},
	} {
		fsys := fstest.MapFS{}
		for _, f := range c.files {
			fsys["m/"+f] = sql
		}
		_, err := loadMigrations(fsys, "m")
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestMigrationsAlike keeps the two backends' migrations in step: the same
// versions with the same names.
func TestMigrationsAlike(t *testing.T) {
	lite, err := loadMigrations(migrationFiles, sqliteDialect.migrations)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations(migrationFiles, postgresDialect.migrations)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("%d sqlite and %d postgres migrations", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].name != pg[i].name {
			t.Errorf("migration %d is %s for sqlite, %s for postgres", i+1, lite[i].name, pg[i].name)
		}
	}
}

// testUpgradeRollupSources: a rollup written before migration 0003 (one
// source for both figure groups) reads back with its source as memory's
// too, over all its samples.
func testUpgradeRollupSources(t *testing.T, url string) {
	ctx := context.Background()
	var raw *sqlStore
	var err error
	if strings.HasPrefix(url, "sqlite:") {
		raw, err = openSQLite(ctx, sqlitePath(strings.TrimPrefix(url, "sqlite:")))
	} else {
		raw, err = openPostgres(ctx, url)
	}
	if err != nil {
		t.Fatal(err)
	}
	ms, err := loadMigrations(migrationFiles, raw.dialect.migrations)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // to 0002
		if _, err := migrateStep(ctx, raw.write, raw.dialect, ms[:2]); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO vm (id, name, guest_port, created_ms, updated_ms) VALUES ('` + idA + `', 'a', 8080, 1, 1)`,
		`INSERT INTO rollup_1m (vm_id, minute_ms, samples, source, cpu_usage_percent_avg, cpu_usage_percent_max)
			VALUES ('` + idA + `', 60000, 42, 'host', 12.5, 20)`,
	} {
		if _, err := raw.write.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	s := openStore(t, url)
	got := mustRollups(t, s, idA, 0, 10*minute)
	if len(got) != 1 || got[0].Source != "host" || got[0].MemorySource != "host" || got[0].SourceSamples != 42 ||
		got[0].MemorySourceSamples != 42 || got[0].CPU.Avg != 12.5 {
		t.Errorf("an old rollup after the upgrade: %+v", got)
	}
}
