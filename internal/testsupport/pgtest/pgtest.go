// Package pgtest gives tests a throwaway PostgreSQL server: the one named by
// FCMON_TEST_DATABASE_URL, or else a cluster it starts with
// scripts/pg-test-cluster.sh (Unix socket only, removed afterwards). Each
// test gets an empty schema of its own on that server, so tests run in
// parallel. It is for tests only.
package pgtest

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Server is a PostgreSQL server for one test binary.
type Server struct {
	// Skip says why there is no server; empty when there is one.
	Skip string

	url     string
	admin   *sql.DB
	schemas atomic.Int64
	stop    func()
}

// Start finds or starts the server. A missing PostgreSQL installation is not
// an error: the Server then has Skip set and NewSchema skips the tests that
// need it. label names the caller in messages. Call Stop when done.
func Start(label string) (*Server, error) {
	s := &Server{url: os.Getenv("FCMON_TEST_DATABASE_URL"), stop: func() {}}
	if s.url == "" {
		pgBin := os.Getenv("PG_BIN")
		if pgBin == "" {
			pgBin = "/usr/lib/postgresql/15/bin"
		}
		if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
			s.Skip = "no PostgreSQL: FCMON_TEST_DATABASE_URL is not set and " + pgBin +
				"/initdb is missing (apt-get install postgresql-15, or set PG_BIN; make test installs it)"
			return s, nil
		}
		if err := s.startCluster(label); err != nil {
			return nil, err
		}
	}
	admin, err := sql.Open("pgx", s.url)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("%s: FCMON_TEST_DATABASE_URL: %w", label, err)
	}
	s.admin = admin
	return s, nil
}

// URL is the server's own database, for a test that starts a server of its
// own (and may stop it while a program uses it); others use NewSchema.
func (s *Server) URL() string { return s.url }

// Stop closes the connection and stops a cluster Start started.
func (s *Server) Stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	s.stop()
}

// startCluster runs scripts/pg-test-cluster.sh in a new temporary directory.
// The cluster also stops by itself when this process exits.
func (s *Server) startCluster(label string) error {
	script, err := findScript()
	if err != nil {
		return err
	}
	parent, err := os.MkdirTemp("", "fcmon-"+strings.ReplaceAll(label, " ", "-")+"-pg-")
	if err != nil {
		return err
	}
	// The server runs as the postgres user when we are root: it must be
	// able to reach its directory.
	if err := os.Chmod(parent, 0o755); err != nil {
		return err
	}
	dir := filepath.Join(parent, "pg")
	cmd := exec.Command(script, "start", dir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PG_TEST_OWNER_PID=%d", os.Getpid()))
	out, err := cmd.Output()
	if err != nil {
		exec.Command(script, "stop", dir).Run()
		os.RemoveAll(parent)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s: starting PostgreSQL: %s", label, strings.TrimSpace(string(ee.Stderr)))
		}
		return fmt.Errorf("%s: starting PostgreSQL: %w", label, err)
	}
	s.url = strings.TrimSpace(string(out))
	s.stop = func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "%s: stopping PostgreSQL: %v: %s\n", label, err, out)
		}
		os.RemoveAll(parent)
	}
	return nil
}

// findScript looks for scripts/pg-test-cluster.sh in the module root above
// the working directory (a test runs in its package's directory).
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "pg-test-cluster.sh"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("pgtest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// NewSchema returns the URL of an empty schema, selected through the
// connection's search_path and dropped when t ends. It skips t when there
// is no server.
func (s *Server) NewSchema(t testing.TB) string {
	t.Helper()
	if s.Skip != "" {
		t.Skip(s.Skip)
	}
	schema := fmt.Sprintf("fcmon_test_%d_%d", os.Getpid(), s.schemas.Add(1))
	if _, err := s.admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(s.url)
	if err != nil {
		t.Fatalf("FCMON_TEST_DATABASE_URL must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
