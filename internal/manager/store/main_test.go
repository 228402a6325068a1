package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/fcmon/fcmon/internal/testsupport/pgtest"
)

// pg is the PostgreSQL server the tests use (see pgtest).
var pg *pgtest.Server

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	var err error
	if pg, err = pgtest.Start("store tests"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pg.Stop()
	return m.Run()
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

// newPostgresURL gives each test its own schema, so tests run in parallel
// on one server.
func newPostgresURL(t *testing.T) string { return pg.NewSchema(t) }

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
