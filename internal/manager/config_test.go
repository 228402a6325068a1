package manager

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
)

// parse builds a Config the way cmd/manager does, from args and env.
func parse(t *testing.T, args []string, env map[string]string) Config {
	t.Helper()
	var c Config
	fs := cli.New("manager", "MANAGER_", "")
	c.Flags(fs)
	if err := fs.Parse(args, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return c
}

// TestDefaults: no flags give a loopback listener, SQLite in ./data and
// the private guest ranges.
func TestDefaults(t *testing.T) {
	c := parse(t, nil, nil)
	s, err := c.validate()
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || s.databaseURL != "sqlite:data/fcmon.db" || s.sqliteDir != "data" ||
		c.PollInterval != time.Second || s.retention != 7*24*time.Hour || s.guestAllow.String() != netpolicy.MustParseList("x", netpolicy.PrivateRanges).String() || s.apiToken != "" {
		t.Errorf("defaults %+v %+v", c, s)
	}
}

// TestDatabaseURL: the flag wins over MANAGER_DATABASE_URL, which wins over
// DATABASE_URL; relative SQLite paths lie in --data-dir.
func TestDatabaseURL(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"DATABASE_URL": "postgres://db/fcmon"}, "postgres://db/fcmon"},
		{nil, map[string]string{"DATABASE_URL": "postgres://a", "MANAGER_DATABASE_URL": "postgres://b"}, "postgres://b"},
		{[]string{"--database-url", "sqlite:x.db"}, map[string]string{"DATABASE_URL": "postgres://a"}, "sqlite:data/x.db"},
		{[]string{"--data-dir", "/var/lib/fcmon"}, nil, "sqlite:/var/lib/fcmon/fcmon.db"},
		{[]string{"--database-url", "sqlite:///abs/f.db"}, nil, "sqlite:/abs/f.db"},
	}
	for _, tt := range tests {
		c := parse(t, tt.args, tt.env)
		s, err := c.validate()
		if err != nil || s.databaseURL != tt.want {
			t.Errorf("%v %v: %q, %v; want %q", tt.args, tt.env, s.databaseURL, err, tt.want)
		}
	}
}

// TestConfigRejects: each bad setting is refused with a one-line reason
// naming the flag.
func TestConfigRejects(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:8080"}, "--listen 0.0.0.0:8080 is not a loopback address"},
		{[]string{"--listen", ":8080"}, "not a loopback address"},
		{[]string{"--listen", "example.com:80"}, "not a loopback address"},
		{[]string{"--listen", "127.0.0.1"}, "is not host:port"},
		{[]string{"--poll-interval", "10ms"}, "--poll-interval 10ms is out of range"},
		{[]string{"--history-retention", "7 days"}, "not a duration such as 7d or 168h"},
		{[]string{"--history-retention", "30m"}, "shorter than 1h"},
		{[]string{"--guest-allow-cidrs", "10.0.0.0/33"}, `"10.0.0.0/33" is not a network`},
		{[]string{"--guest-allow-cidrs", ","}, "--guest-allow-cidrs is empty"},
		{[]string{"--database-url", "mysql://x"}, "must be sqlite:PATH or postgres://"},
		{[]string{"--database-url", "sqlite:"}, "has no file path"},
		{[]string{"--api-token", "a", "--api-token-file", empty}, "both set"},
		{[]string{"--api-token-file", empty}, "is empty"},
		{[]string{"--api-token-file", filepath.Join(dir, "missing")}, "--api-token-file: open"},
		{[]string{"--host-agent-token-file", empty}, "--host-agent-token-file"},
		{[]string{"--shutdown-timeout", "0s"}, "must be positive"},
		{[]string{"--host-agent-allow-cidrs", "x"}, "--host-agent-allow-cidrs"},
		{[]string{"--allowed-hosts", "http://a"}, "--allowed-hosts"},
		{[]string{"--allowed-origins", "["}, "--allowed-origins"},
		{[]string{"--tls-cert", "/a.crt"}, "--tls-cert and --tls-key"},
		{[]string{"--tls-client-ca", "/ca.crt"}, "--tls-client-ca"},
		{[]string{"--read-timeout", "10ms"}, "--read-timeout"},
		{[]string{"--max-streams", "0"}, "--max-streams"},
	}
	for _, tt := range tests {
		c := parse(t, tt.args, nil)
		_, err := c.validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want one line containing %q", tt.args, err, tt.want)
		}
	}
}

// TestNonLoopbackWithToken: a token, from the flag, the environment or a
// file, or --insecure lets the manager listen beyond loopback.
func TestNonLoopbackWithToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	tests := []struct {
		args  []string
		env   map[string]string
		token string
	}{
		{[]string{"--api-token", "t1"}, nil, "t1"},
		{nil, map[string]string{"MANAGER_API_TOKEN": "t2"}, "t2"},
		{[]string{"--api-token-file", file}, nil, "from-file"},
		{[]string{"--insecure"}, nil, ""},
	}
	for _, tt := range tests {
		c := parse(t, append([]string{"--listen", "0.0.0.0:8080"}, tt.args...), tt.env)
		s, err := c.validate()
		if err != nil || s.apiToken != tt.token {
			t.Errorf("%v %v: token %q, %v; want %q", tt.args, tt.env, s.apiToken, err, tt.token)
		}
	}
}

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d": 168 * time.Hour, "168h": 168 * time.Hour, "1.5d": 36 * time.Hour, "7d12h": 180 * time.Hour, "90m": 90 * time.Minute,
	} {
		if got, err := ParseRetention(in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "7", "1w", "7dd"} {
		if _, err := ParseRetention(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// TestRedact: no secret of a database URL reaches the log, whether in the
// user information or as a query parameter.
func TestRedact(t *testing.T) {
	for in, secret := range map[string]string{
		"postgres://fcmon:pw1@db/fcmon":                          "pw1",
		"postgres://fcmon@db/fcmon?password=pw2&sslmode=disable": "pw2",
		"postgres://db/fcmon?PASSWORD=pw3":                       "pw3",
		"postgres://db/fcmon?sslpassword=pw4":                    "pw4",
		"postgres://u:pw5@db/fcmon?password=pw6":                 "pw6",
	} {
		out := redact(in)
		if strings.Contains(out, secret) || !strings.Contains(out, "db") {
			t.Errorf("redact(%q) = %q", in, out)
		}
	}
	if got := redact("postgres://db/fcmon?sslmode=disable"); got != "postgres://db/fcmon?sslmode=disable" {
		t.Errorf("a URL without secrets changed: %q", got)
	}
}
