package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// pgTest is the PostgreSQL server the tests use: the database named by
// FCMON_TEST_DATABASE_URL, or else a throwaway cluster TestMain starts with
// scripts/pg-test-cluster.sh. skip says why there is none.
var pgTest struct {
	url    string
	admin  *sql.DB
	skip   string
	schema atomic.Int64
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	stop, err := setupPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// setupPostgres fills pgTest and returns what undoes it.
func setupPostgres() (stop func(), err error) {
	stop = func() {}
	pgTest.url = os.Getenv("FCMON_TEST_DATABASE_URL")
	if pgTest.url == "" {
		pgBin := os.Getenv("PG_BIN")
		if pgBin == "" {
			pgBin = "/usr/lib/postgresql/15/bin"
		}
		if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
			pgTest.skip = fmt.Sprintf("no PostgreSQL: FCMON_TEST_DATABASE_URL is not set and %s/initdb is missing (apt-get install postgresql-15, or set PG_BIN)", pgBin)
			return stop, nil
		}
		if stop, err = startCluster(); err != nil {
			return func() {}, err
		}
	}
	if pgTest.admin, err = sql.Open("pgx", pgTest.url); err != nil {
		stop()
		return func() {}, err
	}
	stopCluster := stop
	return func() { pgTest.admin.Close(); stopCluster() }, nil
}

// startCluster runs scripts/pg-test-cluster.sh start in a new temporary
// directory and sets pgTest.url to the URL it prints.
func startCluster() (stop func(), err error) {
	script, err := filepath.Abs("../../scripts/pg-test-cluster.sh")
	if err != nil {
		return nil, err
	}
	parent, err := os.MkdirTemp("", "fcmon-store-pg-")
	if err != nil {
		return nil, err
	}
	// The server runs as another user (postgres) when we are root: it
	// must be able to reach its directory.
	if err := os.Chmod(parent, 0o755); err != nil {
		return nil, err
	}
	dir := filepath.Join(parent, "pg")
	begin := time.Now()
	cmd := exec.Command(script, "start", dir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PG_TEST_OWNER_PID=%d", os.Getpid()))
	out, err := cmd.Output()
	if err != nil {
		exec.Command(script, "stop", dir).Run()
		os.RemoveAll(parent)
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("starting PostgreSQL: %s", strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	pgTest.url = strings.TrimSpace(string(out))
	fmt.Fprintf(os.Stderr, "store tests: PostgreSQL cluster in %s started in %v\n", dir, time.Since(begin).Round(time.Millisecond))
	return func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "store tests: stopping PostgreSQL: %v: %s\n", err, out)
		}
		os.RemoveAll(parent)
	}, nil
}

// backend makes fresh, empty databases of one kind for tests.
type backend struct {
	name string
	// newURL returns the URL of an empty database that is dropped when
	// the test ends.
	newURL func(t *testing.T) string
}

var backends = []backend{
	{name: "sqlite", newURL: func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "fcmon.db")
	}},
	{name: "postgres", newURL: newPostgresURL},
}

// newPostgresURL gives each test its own schema, selected through the
// connection's search_path, so tests run in parallel on one server.
func newPostgresURL(t *testing.T) string {
	t.Helper()
	if pgTest.skip != "" {
		t.Skip(pgTest.skip)
	}
	schema := fmt.Sprintf("fcmon_test_%d_%d", os.Getpid(), pgTest.schema.Add(1))
	ctx := context.Background()
	if _, err := pgTest.admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := pgTest.admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema: %v", err)
		}
	})
	u, err := url.Parse(pgTest.url)
	if err != nil {
		t.Fatalf("FCMON_TEST_DATABASE_URL must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openStore opens url for a test and closes it when the test ends.
func openStore(t *testing.T, url string) *sqlStore {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*sqlStore)
}
