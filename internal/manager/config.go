package manager

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/cli"
)

// DefaultGuestAllowCIDRs are the private ranges the manager contacts guest
// agents in unless --guest-allow-cidrs says otherwise.
const DefaultGuestAllowCIDRs = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"

// Config is the manager's configuration as flags and environment give it.
// Flags sets the defaults; Validate checks it.
type Config struct {
	// Listen is the TCP address of the API. A non-loopback address needs
	// an API token unless Insecure is set.
	Listen string
	// DatabaseURL is sqlite:PATH or postgres://...; empty means
	// sqlite:fcmon.db. A relative SQLite path lies inside DataDir.
	DatabaseURL string
	// DataDir holds the SQLite database; created (mode 0700) when missing.
	DataDir string
	// PollInterval is how often every VM is polled (100ms to 1h).
	PollInterval time.Duration
	// GuestAllowCIDRs lists, comma-separated, the networks guest_ip may be
	// in. Link-local addresses are refused whatever it says.
	GuestAllowCIDRs string
	// HistoryRetention is how long 1-minute rollups are kept: a Go duration
	// ("168h") or a number of days ("7d").
	HistoryRetention string
	// APIToken or APITokenFile (not both) set the bearer token of the API.
	APIToken, APITokenFile string
	// Insecure allows a non-loopback Listen without a token.
	Insecure bool
	// HostAgentTokenFile and GuestAgentTokenFile hold the tokens the
	// manager presents to host and guest agents.
	HostAgentTokenFile, GuestAgentTokenFile string
	// AllowedOrigins lists, comma-separated, other web origins whose pages
	// may open the WebSocket streams (host patterns such as ui.example.com).
	AllowedOrigins string
	// ShutdownTimeout bounds the wait for requests in flight on SIGTERM.
	ShutdownTimeout time.Duration
}

// Flags registers the configuration's flags, with their defaults, on fs.
func (c *Config) Flags(fs *cli.FlagSet) {
	fs.String(&c.Listen, "listen", "127.0.0.1:8080",
		"address of the API; a non-loopback address needs --api-token or --api-token-file, or --insecure")
	fs.String(&c.DatabaseURL, "database-url", "",
		"sqlite:PATH (a relative PATH lies in --data-dir) or postgres://...; also read from DATABASE_URL (default sqlite:fcmon.db)")
	fs.String(&c.DataDir, "data-dir", "./data", "directory of the SQLite database, created with mode 0700")
	fs.Duration(&c.PollInterval, "poll-interval", time.Second, "how often every VM is polled (100ms to 1h)")
	fs.String(&c.GuestAllowCIDRs, "guest-allow-cidrs", DefaultGuestAllowCIDRs,
		"comma-separated networks whose guest agents the manager may contact; link-local (169.254.0.0/16, fe80::/10) is never contacted, loopback only when listed")
	fs.String(&c.HistoryRetention, "history-retention", "7d",
		"how long 1-minute history rollups are kept: days (7d) or a duration (168h), at least 1h")
	fs.String(&c.APIToken, "api-token", "",
		"bearer token every /v1 call and /metrics then require (prefer MANAGER_API_TOKEN or --api-token-file: flags show in ps)")
	fs.String(&c.APITokenFile, "api-token-file", "", "file holding the API token, instead of --api-token")
	fs.Bool(&c.Insecure, "insecure", false, "allow listening on a non-loopback address without an API token")
	fs.String(&c.HostAgentTokenFile, "host-agent-token-file", "", "file holding the token of the host agents (their --token-file)")
	fs.String(&c.GuestAgentTokenFile, "guest-agent-token-file", "", "file holding the token of the guest agents (their --token-file)")
	fs.String(&c.AllowedOrigins, "allowed-origins", "",
		"comma-separated host patterns of other web origins allowed to open the WebSocket streams (default: same origin only)")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", 5*time.Second,
		"how long requests in flight may take to finish on SIGINT or SIGTERM")
}

// EnvWithDatabaseURL wraps getenv so that MANAGER_DATABASE_URL falls back
// to the conventional DATABASE_URL.
func EnvWithDatabaseURL(getenv func(string) string) func(string) string {
	return func(name string) string {
		v := getenv(name)
		if v == "" && name == "MANAGER_DATABASE_URL" {
			v = getenv("DATABASE_URL")
		}
		return v
	}
}

// settings is a validated Config.
type settings struct {
	databaseURL string // with a relative SQLite path resolved
	sqliteDir   string // directory to create for SQLite; "" for PostgreSQL
	allow       []netip.Prefix
	origins     []string
	retention   time.Duration
	apiToken    string
	hostToken   string
	guestToken  string
}

// validate checks c and reads its token files. Errors are one line and
// name the flag.
func (c *Config) validate() (settings, error) {
	var s settings
	var err error
	if c.PollInterval < 100*time.Millisecond || c.PollInterval > time.Hour {
		return s, fmt.Errorf("--poll-interval %s is out of range (100ms to 1h)", c.PollInterval)
	}
	if c.ShutdownTimeout <= 0 {
		return s, fmt.Errorf("--shutdown-timeout %s must be positive", c.ShutdownTimeout)
	}
	if s.retention, err = ParseRetention(c.HistoryRetention); err != nil {
		return s, err
	}
	if s.allow, err = ParseCIDRs(c.GuestAllowCIDRs); err != nil {
		return s, err
	}
	s.origins = splitList(c.AllowedOrigins)
	if s.databaseURL, s.sqliteDir, err = resolveDatabase(c.DatabaseURL, c.DataDir); err != nil {
		return s, err
	}
	if err := c.readTokens(&s); err != nil {
		return s, err
	}
	loopback, err := isLoopback(c.Listen)
	if err != nil {
		return s, err
	}
	if !loopback && s.apiToken == "" && !c.Insecure {
		return s, fmt.Errorf("--listen %s is not a loopback address: give --api-token (or MANAGER_API_TOKEN, --api-token-file), or --insecure to serve without authentication", c.Listen)
	}
	return s, nil
}

func (c *Config) readTokens(s *settings) error {
	var err error
	switch {
	case c.APIToken != "" && c.APITokenFile != "":
		return errors.New("--api-token and --api-token-file are both set; give one")
	case c.APITokenFile != "":
		if s.apiToken, err = readToken("--api-token-file", c.APITokenFile); err != nil {
			return err
		}
	case c.APIToken != "":
		if s.apiToken = strings.TrimSpace(c.APIToken); strings.ContainsAny(s.apiToken, " \t\r\n") {
			return errors.New("--api-token holds whitespace; a token is one word")
		}
	}
	if c.HostAgentTokenFile != "" {
		if s.hostToken, err = readToken("--host-agent-token-file", c.HostAgentTokenFile); err != nil {
			return err
		}
	}
	if c.GuestAgentTokenFile != "" {
		s.guestToken, err = readToken("--guest-agent-token-file", c.GuestAgentTokenFile)
	}
	return err
}

// readToken reads a token file; surrounding whitespace (a trailing newline)
// is not part of the token.
func readToken(flag, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	token := strings.TrimSpace(string(b))
	switch {
	case token == "":
		return "", fmt.Errorf("%s %s is empty", flag, path)
	case strings.ContainsAny(token, " \t\r\n"):
		return "", fmt.Errorf("%s %s holds more than one word; a token has no whitespace", flag, path)
	}
	return token, nil
}

// ParseRetention parses --history-retention: a number of days ("7d",
// "1.5d"), a Go duration ("168h", "90m"), or days followed by a duration
// ("7d12h"). It must be at least an hour.
func ParseRetention(s string) (time.Duration, error) {
	bad := fmt.Errorf("--history-retention %q is not a duration such as 7d or 168h", s)
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, rest, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 || n > 36500 {
			return 0, bad
		}
		d, s = time.Duration(n*float64(24*time.Hour)), rest
	}
	if s != "" {
		more, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		d += more
	}
	if d < time.Hour {
		return 0, fmt.Errorf("--history-retention %s is shorter than 1h", d)
	}
	return d, nil
}

// ParseCIDRs parses a comma-separated list of networks (a bare address is a
// single-address network).
func ParseCIDRs(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range splitList(list) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("--guest-allow-cidrs: %q is not a network such as 10.0.0.0/8", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, errors.New("--guest-allow-cidrs is empty: no guest agent could ever be contacted")
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// resolveDatabase returns the URL to open and, for SQLite, the directory to
// create. The URL itself stays out of errors: it may hold a password.
func resolveDatabase(raw, dataDir string) (dbURL, sqliteDir string, err error) {
	if raw == "" {
		raw = "sqlite:fcmon.db"
	}
	scheme, rest, _ := strings.Cut(raw, ":")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return raw, "", nil
	case "sqlite", "sqlite3":
	default:
		return "", "", errors.New("--database-url (or DATABASE_URL) must be sqlite:PATH or postgres://...")
	}
	path := strings.TrimPrefix(rest, "//")
	if path == "" {
		return "", "", errors.New("--database-url sqlite: has no file path; expected for example sqlite:fcmon.db")
	}
	if !filepath.IsAbs(path) {
		if dataDir == "" {
			return "", "", errors.New("--data-dir is empty; a relative SQLite path needs it")
		}
		path = filepath.Join(dataDir, path)
	}
	return "sqlite:" + path, filepath.Dir(path), nil
}

// isLoopback reports whether addr (host:port) listens on loopback only. An
// empty host means every interface; a host name other than localhost might
// resolve anywhere, so it counts as non-loopback.
func isLoopback(addr string) (bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--listen %q is not host:port", addr)
	}
	if port == "" {
		return false, fmt.Errorf("--listen %q has no port", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback(), nil
}

// redact hides the password of a database URL for the log.
func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		return dbURL
	}
	return u.Redacted()
}
