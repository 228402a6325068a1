package manager

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/bearer"
	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/logging"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/access"
	"github.com/fcmon/fcmon/internal/manager/registry"
	"github.com/fcmon/fcmon/internal/manager/tsdb"
)

// Config is the manager's configuration as flags and environment give it.
// Flags sets the defaults; validate checks it.
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
	// GuestAllowCIDRs and HostAgentAllowCIDRs list, comma-separated, the
	// networks guest agents and host agents may be in. Link-local and
	// metadata addresses are refused whatever they say.
	GuestAllowCIDRs, HostAgentAllowCIDRs string
	// HistoryRetention is how long 1-minute rollups are kept: a Go duration
	// ("168h") or a number of days ("7d").
	HistoryRetention string
	// APIToken or APITokenFile (not both) set the bearer token of the API.
	APIToken, APITokenFile string
	// Insecure allows a non-loopback Listen without a token.
	Insecure bool
	// TokensFile holds more tokens, each with a role (access.ParseTokens);
	// RegistrationSecretFile the secret guests' per-VM registration
	// credentials derive from.
	TokensFile, RegistrationSecretFile string
	// HostAgentTokenFile and GuestAgentTokenFile hold the tokens the
	// manager presents to host and guest agents.
	HostAgentTokenFile, GuestAgentTokenFile string
	// AllowedHosts lists, comma-separated, the names requests may carry as
	// Host besides the listen address, localhost and loopback addresses.
	AllowedHosts string
	// AllowedOrigins lists, comma-separated, other web origins whose pages
	// may open the WebSocket streams (host patterns such as ui.example.com).
	AllowedOrigins string
	// PrometheusLabels are the VM labels copied onto every VM series.
	PrometheusLabels string
	// TLSCert and TLSKey serve HTTPS; TLSClientCA requires client
	// certificates signed by it.
	TLSCert, TLSKey, TLSClientCA string
	// HostAgentCA, HostAgentCert and HostAgentKey configure https:// host
	// agents: the CA that signs their certificates and the manager's own.
	HostAgentCA, HostAgentCert, HostAgentKey string
	// ReadTimeout bounds reading one whole request, body included.
	ReadTimeout time.Duration
	// MaxStreams bounds the WebSocket streams open at once.
	MaxStreams int
	// ShutdownTimeout bounds the wait for requests in flight on SIGTERM.
	ShutdownTimeout time.Duration
	// ClockSkew is how far a guest's clock may be off the host's before a
	// clock_skew event; CrossCheckAfter how long the guest's figures and
	// the host's view of them may disagree before a cross_check event.
	// Zero (or less) turns either off.
	ClockSkew, CrossCheckAfter time.Duration
	// ThrottleThreshold (percent of a VMM cgroup's CPU periods throttled)
	// sustained for ThrottleFor makes a cpu_throttled event.
	ThrottleThreshold int
	ThrottleFor       time.Duration
	// HostAgents lists, comma-separated, host agents to collect from
	// (added to those registered through POST /v1/hosts).
	HostAgents string
	// AdvertiseURL is where the other managers sharing the database, and
	// people reading GET /v1/cluster, reach this one; default
	// http://<listen>.
	AdvertiseURL string
	// HostNewVMsPerMinute, MaxVMs and ForgetUnsampledAfter are the
	// registry's limits (see Limits).
	HostNewVMsPerMinute  int
	MaxVMs               int
	ForgetUnsampledAfter time.Duration
	// HistoryURL is a Prometheus-compatible query API that answers the
	// history beyond the live window; empty: the embedded rollups.
	HistoryURL string
	// LogLevel and LogFormat shape the log on stderr.
	LogLevel, LogFormat string
}

// Flags registers the configuration's flags, with their defaults, on fs.
func (c *Config) Flags(fs *cli.FlagSet) {
	fs.String(&c.Listen, "listen", "127.0.0.1:"+strconv.Itoa(wire.DefaultManagerPort),
		"address of the API; a non-loopback address needs --api-token or --api-token-file, or --insecure")
	fs.String(&c.DatabaseURL, "database-url", "",
		"sqlite:PATH (a relative PATH lies in --data-dir) or postgres://... (default sqlite:fcmon.db)")
	fs.EnvAlias("database-url", "DATABASE_URL")
	fs.String(&c.DataDir, "data-dir", "./data", "directory of the SQLite database, created with mode 0700")
	fs.Duration(&c.PollInterval, "poll-interval", time.Second, "how often every VM is polled (100ms to 1h)")
	fs.String(&c.GuestAllowCIDRs, "guest-allow-cidrs", netpolicy.PrivateRanges,
		"comma-separated networks whose guest agents the manager may contact; link-local and cloud metadata addresses are never contacted, loopback only when listed")
	fs.String(&c.HostAgentAllowCIDRs, "host-agent-allow-cidrs", netpolicy.LoopbackAndPrivate,
		"comma-separated networks whose host agents the manager may contact (host_agent_url must name one, or a name resolving only into them); link-local and metadata addresses never")
	fs.String(&c.HostAgents, "host-agents", "",
		"comma-separated host agent URLs (http://10.0.0.5:9091) to collect every VM of, one GET /v1/samples per host per --poll-interval; more through POST /v1/hosts")
	fs.Duration(&c.ClockSkew, "clock-skew-threshold", 5*time.Second,
		"a guest clock further than this from the host's (or the manager's) makes a clock_skew event; 0 turns the check off")
	fs.Duration(&c.CrossCheckAfter, "cross-check-after", time.Minute,
		"how long a guest's CPU or memory may disagree with its vCPU threads' or its balloon's before a cross_check event; 0 turns the check off")
	fs.Int(&c.ThrottleThreshold, "throttle-threshold", 25,
		"percent of a VMM cgroup's CPU quota periods throttled that, held for --throttle-for, makes a cpu_throttled event")
	fs.Duration(&c.ThrottleFor, "throttle-for", 30*time.Second,
		"how long throttling above --throttle-threshold must last before a cpu_throttled event; 0 turns the event off")
	fs.String(&c.HistoryRetention, "history-retention", "7d",
		"how long 1-minute history rollups are kept: days (7d) or a duration (168h), at least 1h")
	fs.Int(&c.HostNewVMsPerMinute, "host-new-vms-per-minute", 2000,
		"most new VMs one host agent may bring per minute (a burst of as many at once); more are registered at later polls")
	fs.Int(&c.MaxVMs, "max-vms", 250000,
		"most VMs the registry holds, gone ones included: at the limit the longest gone are forgotten first, and new ones wait while every VM is live")
	fs.Duration(&c.ForgetUnsampledAfter, "forget-unsampled-after", 5*time.Minute,
		"how long a host agent's VM that never had a figure stored is kept once gone (others are kept for --history-retention)")
	fs.String(&c.AdvertiseURL, "advertise-url", "",
		"the URL other managers sharing the database reach this one at (shown in GET /v1/cluster; the API of a VM collected here is proxied to it); default http://<--listen>")
	fs.String(&c.HistoryURL, "history-url", "",
		"a Prometheus-compatible query API (Prometheus, VictoriaMetrics, Mimir, Thanos) scraping the targets of GET /v1/prometheus/sd: history beyond the live window is read from it with PromQL; it must lie in --host-agent-allow-cidrs")
	fs.String(&c.APIToken, "api-token", "",
		"bearer token every /v1 call and /metrics then require (prefer MANAGER_API_TOKEN or --api-token-file: flags show in ps)")
	fs.String(&c.APITokenFile, "api-token-file", "", "file holding the API token, instead of --api-token")
	fs.Bool(&c.Insecure, "insecure", false, "allow listening on a non-loopback address without an API token")
	fs.String(&c.TokensFile, "tokens-file", "",
		"file of tokens with roles, one a line: ROLE NAME TOKEN [SELECTOR] (roles admin, read, register; a read token's selector such as tenant=acme scopes it; mode 600); reread on SIGHUP")
	fs.String(&c.RegistrationSecretFile, "registration-secret-file", "",
		"file holding the secret (32 bytes or more, mode 600) each VM's registration credential derives from: see `manager registration-token`")
	fs.String(&c.HostAgentTokenFile, "host-agent-token-file", "", "file holding the token of the host agents (their --token-file)")
	fs.String(&c.GuestAgentTokenFile, "guest-agent-token-file", "", "file holding the token of the guest agents (their --token-file)")
	fs.String(&c.AllowedHosts, "allowed-hosts", "",
		"comma-separated host names (or *.domain patterns) requests may name in Host besides the listen address, localhost and loopback addresses")
	fs.String(&c.AllowedOrigins, "allowed-origins", "",
		"comma-separated host patterns of other web origins allowed to open the WebSocket streams (default: same origin only)")
	fs.String(&c.PrometheusLabels, "prometheus-labels", "",
		"comma-separated VM labels copied onto every VM series and SD target (all labels are on fcmon_vm_info), e.g. tenant,template")
	fs.String(&c.TLSCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with; re-read when it changes or on SIGHUP")
	fs.String(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.String(&c.TLSClientCA, "tls-client-ca", "", "PEM CA certificates; every client must then present a certificate they signed")
	fs.String(&c.HostAgentCA, "host-agent-ca", "", "PEM CA certificates that sign https:// host agents' certificates (default: the system's)")
	fs.String(&c.HostAgentCert, "host-agent-cert", "", "PEM client certificate the manager presents to host agents that require one")
	fs.String(&c.HostAgentKey, "host-agent-key", "", "PEM private key of --host-agent-cert")
	fs.Duration(&c.ReadTimeout, "read-timeout", 30*time.Second,
		"how long a client may take to send one whole request, body included (WebSocket streams are exempt once open)")
	fs.Int(&c.MaxStreams, "max-streams", 1024, "most WebSocket streams open at once; more get 503")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", 5*time.Second,
		"how long requests in flight may take to finish on SIGINT or SIGTERM")
	logging.Flags(fs, &c.LogLevel, &c.LogFormat)
}

// settings is a validated Config.
type settings struct {
	databaseURL string // with a relative SQLite path resolved
	sqliteDir   string // directory to create for SQLite; "" for PostgreSQL
	guestAllow  netpolicy.List
	hostAllow   netpolicy.List
	hosts       *netpolicy.Hosts
	origins     []string
	retention   time.Duration
	apiToken    string
	keys        *access.Keys
	hostToken   string
	guestToken  string
	hostAgents  []string     // canonical URLs of --host-agents
	tsdb        *tsdb.Client // --history-url; nil: the rollups
	advertise   string       // --advertise-url, canonical
	limits      registry.Limits
	promLabels  []string // --prometheus-labels
}

// validate checks c and reads its token files. Errors are one line and
// name the flag.
func (c *Config) validate() (settings, error) {
	var s settings
	var err error
	switch {
	case c.PollInterval < 100*time.Millisecond || c.PollInterval > time.Hour:
		return s, fmt.Errorf("--poll-interval %s is out of range (100ms to 1h)", c.PollInterval)
	case c.ShutdownTimeout <= 0:
		return s, fmt.Errorf("--shutdown-timeout %s must be positive", c.ShutdownTimeout)
	case c.ReadTimeout < time.Second:
		return s, fmt.Errorf("--read-timeout %s is shorter than 1s", c.ReadTimeout)
	case c.ThrottleThreshold < 1 || c.ThrottleThreshold > 100:
		return s, fmt.Errorf("--throttle-threshold %d is not a percentage from 1 to 100", c.ThrottleThreshold)
	case c.MaxStreams < 1:
		return s, fmt.Errorf("--max-streams %d must be at least 1", c.MaxStreams)
	case c.HostNewVMsPerMinute < 1:
		return s, fmt.Errorf("--host-new-vms-per-minute %d must be at least 1", c.HostNewVMsPerMinute)
	case c.MaxVMs < 1:
		return s, fmt.Errorf("--max-vms %d must be at least 1", c.MaxVMs)
	case c.ForgetUnsampledAfter < time.Second:
		return s, fmt.Errorf("--forget-unsampled-after %s is shorter than 1s", c.ForgetUnsampledAfter)
	case (c.TLSCert == "") != (c.TLSKey == "") || (c.TLSClientCA != "" && c.TLSCert == ""):
		return s, errors.New("--tls-cert and --tls-key go together, and --tls-client-ca needs them")
	}
	s.limits = registry.Limits{NewPerHostPerMinute: c.HostNewVMsPerMinute, MaxVMs: c.MaxVMs,
		ForgetUnsampledAfter: c.ForgetUnsampledAfter, ExitEventsPerHostPerMinute: registry.ExitEventsPerHostPerMinute}
	if s.retention, err = ParseRetention(c.HistoryRetention); err != nil {
		return s, err
	}
	if s.guestAllow, err = netpolicy.ParseList("--guest-allow-cidrs", c.GuestAllowCIDRs); err != nil {
		return s, err
	}
	if s.hostAllow, err = netpolicy.ParseList("--host-agent-allow-cidrs", c.HostAgentAllowCIDRs); err != nil {
		return s, err
	}
	if s.hostAgents, err = parseHostAgents(c.HostAgents, s.hostAllow); err != nil {
		return s, err
	}
	s.advertise = "http://" + c.Listen
	if c.TLSCert != "" {
		s.advertise = "https://" + c.Listen
	}
	if c.AdvertiseURL != "" {
		if s.advertise, err = netpolicy.ParseAgentURL("--advertise-url", c.AdvertiseURL); err != nil {
			return s, err
		}
	}
	if c.HistoryURL != "" {
		if s.tsdb, err = tsdb.New(c.HistoryURL, s.hostAllow); err != nil {
			return s, err
		}
	}
	if s.promLabels, err = labels.ParseCopied(c.PrometheusLabels); err != nil {
		return s, fmt.Errorf("--prometheus-labels: %w", err)
	}
	s.origins = netpolicy.SplitList(c.AllowedOrigins)
	for _, o := range s.origins {
		if _, err := path.Match(o, ""); err != nil {
			return s, fmt.Errorf("--allowed-origins: %q is not a host pattern", o)
		}
	}
	if s.databaseURL, s.sqliteDir, err = resolveDatabase(c.DatabaseURL, c.DataDir); err != nil {
		return s, err
	}
	if err := c.readTokens(&s); err != nil {
		return s, err
	}
	loopback, err := netpolicy.IsLoopback(c.Listen)
	if err != nil {
		return s, err
	}
	if !loopback && !s.keys.Readers() && !c.Insecure {
		return s, fmt.Errorf("--listen %s is not a loopback address: give --api-token (or MANAGER_API_TOKEN, --api-token-file) or an admin or read token in --tokens-file, or --insecure to serve without authentication", c.Listen)
	}
	if s.hosts, err = netpolicy.NewHosts(c.Listen, netpolicy.SplitList(c.AllowedHosts)); err != nil {
		return s, err
	}
	return s, nil
}

func (c *Config) readTokens(s *settings) error {
	var err error
	switch {
	case c.APIToken != "" && c.APITokenFile != "":
		return errors.New("--api-token and --api-token-file are both set; give one")
	case c.APITokenFile != "":
		if s.apiToken, err = bearer.ReadFile("--api-token-file", c.APITokenFile); err != nil {
			return err
		}
	case c.APIToken != "":
		if s.apiToken = strings.TrimSpace(c.APIToken); strings.ContainsAny(s.apiToken, " \t\r\n") {
			return errors.New("--api-token holds whitespace; a token is one word")
		}
	}
	var secret []byte
	if c.RegistrationSecretFile != "" {
		if secret, err = access.ReadSecretFile(c.RegistrationSecretFile); err != nil {
			return fmt.Errorf("--registration-secret-file %w", err)
		}
	}
	if s.keys, err = access.New(access.Options{TokensFile: c.TokensFile, AdminToken: s.apiToken, Secret: secret}); err != nil {
		return err
	}
	if c.HostAgentTokenFile != "" {
		if s.hostToken, err = bearer.ReadFile("--host-agent-token-file", c.HostAgentTokenFile); err != nil {
			return err
		}
	}
	if c.GuestAgentTokenFile != "" {
		s.guestToken, err = bearer.ReadFile("--guest-agent-token-file", c.GuestAgentTokenFile)
	}
	return err
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

// secretParams are the connection parameters that hold secrets.
var secretParams = []string{"password", "sslpassword", "passfile", "sslkey"}

// redact hides the secrets of a database URL for the log: the password of
// its user information and of ?password= (libpq and pgx take both).
func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(unparsable database URL)"
	}
	q := u.Query()
	changed := false
	for k := range q {
		for _, s := range secretParams {
			if strings.EqualFold(k, s) {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	if u.User == nil && !changed {
		return dbURL
	}
	return u.Redacted()
}
