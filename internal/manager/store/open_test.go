package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		url  string
		want string // substring of the error
	}{
		{"", "has no scheme"},
		{"fcmon.db", "has no scheme"},
		{"password=hunter2 host=db:5432", "has no scheme"},
		{"mysql://root:hunter2@db/fcmon", `scheme "mysql" is not supported`},
		{"sqlite:", "has no path"},
		{"sqlite::memory:", "not supported"},
		{"sqlite:file:x.db?mode=memory", "not supported"},
		{"sqlite:" + dir + "/x.db?_pragma=foo", "query parameters"},
		{"sqlite:" + dir + "/missing/x.db", "no such file or directory"},
		{"postgres://fcmon:hunter2@127.0.0.1:1/fcmon?connect_timeout=2", "connecting to postgres"},
		{"postgres://fcmon:hunter2@[::1/fcmon", "postgres database URL"},
		{"postgresql://fcmon@127.0.0.1:1/fcmon?sslmode=bogus", "postgres database URL"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := Open(ctx, c.url)
		cancel()
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error containing %q", c.url, c.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) {
			t.Errorf("Open(%q) = %q, want it to contain %q", c.url, msg, c.want)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("Open(%q) error spans lines: %q", c.url, msg)
		}
		if strings.Contains(msg, "hunter2") {
			t.Errorf("Open(%q) error shows the password: %q", c.url, msg)
		}
	}
}

func TestSQLiteURLForms(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{
		"sqlite:" + filepath.Join(dir, "a.db"),
		"sqlite://" + filepath.Join(dir, "b.db"), // sqlite:///abs/path
		"SQLite:" + filepath.Join(dir, "c.db"),
	} {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Errorf("Open(%q): %v", url, err)
			continue
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("Ping after Open(%q): %v", url, err)
		}
		s.Close()
	}
}

// TestSQLiteTwoStores opens one file twice, as two manager processes would:
// writes from both succeed, waiting on the busy timeout rather than failing.
func TestSQLiteTwoStores(t *testing.T) {
	url := "sqlite:" + filepath.Join(t.TempDir(), "shared.db")
	a, b := openStore(t, url), openStore(t, url)
	mustCreate(t, a, VM{ID: idA, Name: "a"})
	mustCreate(t, b, VM{ID: idB, Name: "b"})
	done := make(chan error, 2)
	for _, s := range []*sqlStore{a, b} {
		go func() {
			var err error
			for m := int64(0); m < 100 && err == nil; m++ {
				err = s.UpsertRollups(context.Background(), []Rollup{rollup(idA, m, 1), rollup(idB, m, 2)})
			}
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("UpsertRollups from two stores: %v", err)
		}
	}
	if n := len(mustRollups(t, b, idA, 0, 100*minute)); n != 100 {
		t.Errorf("%d rollups seen by the second store, want 100", n)
	}
}
