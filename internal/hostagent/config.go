package hostagent

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/internal/core/bearer"
	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/logging"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/discovery"
	"github.com/fcmon/fcmon/internal/hostagent/procstat"
)

// DefaultAllowPaths are the directories under which Firecracker's files
// live in common layouts: /run for sockets and FIFOs, the jailer's
// /srv/jailer, and /var/lib/firecracker.
const DefaultAllowPaths = "/run,/srv/jailer,/var/lib/firecracker"

// Config is the host agent's configuration. The zero value is not valid;
// Flags sets the defaults.
type Config struct {
	// Listen is the TCP address of the HTTP API. A non-loopback address
	// needs a token (TokenFile) unless Insecure is set, as for the manager.
	Listen    string
	Interval  time.Duration // sampling and FlushMetrics period
	TokenFile string        // file holding the bearer token; empty: no auth
	Insecure  bool          // allow a non-loopback Listen without a token
	ProcRoot  string        // procfs mount, normally /proc
	SysRoot   string        // sysfs mount, normally /sys
	MaxVMs    int           // attached VMs at most
	// AllowedHosts lists, comma-separated, the names besides the listen
	// address, localhost and loopback addresses that requests may carry
	// as Host (the DNS-rebinding defence).
	AllowedHosts string
	// AllowPaths lists, comma-separated, the directories under which every
	// path the agent opens, creates or connects to must lie: those POST
	// /v1/vms names, and those of discovered VMs (a jailed VM's jail).
	AllowPaths string
	// TLSCert and TLSKey, when set, serve HTTPS; TLSClientCA makes every
	// client present a certificate signed by it.
	TLSCert, TLSKey, TLSClientCA string
	// Discover finds every Firecracker process on the host each interval;
	// DiscoverScope, when set, limits it to comma-separated directories
	// (a VM is in scope when its jail, or else its API socket, lies below one).
	Discover      bool
	DiscoverScope string
	// DiscoverUIDs lists the users (uids and ranges) whose Firecracker
	// processes discovery watches; others are never contacted.
	DiscoverUIDs string
	// GuestVsockPort is the guest agents' vsock port.
	GuestVsockPort int
	// GuestAllowCIDRs lists the networks of guest_addr, the guest agents
	// read over TCP.
	GuestAllowCIDRs string
	// GuestTokenFile holds the guest agents' token (their --token-file).
	GuestTokenFile string
	// KernelLog is the kernel's log (/dev/kmsg), followed for the OOM
	// killer's kills; empty: not read.
	KernelLog string
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// a signal.
	ShutdownTimeout time.Duration
	// LogLevel and LogFormat shape the log on stderr (see package logging).
	LogLevel, LogFormat string
}

// Flags registers the configuration's flags, with their defaults, on fs.
func (c *Config) Flags(fs *cli.FlagSet) {
	fs.String(&c.Listen, "listen", "127.0.0.1:"+strconv.Itoa(wire.DefaultHostAgentPort),
		"address of the HTTP API; a non-loopback address needs --token-file or --insecure")
	fs.Duration(&c.Interval, "interval", time.Second,
		"sampling period of process and tap counters, and of FlushMetrics calls (100ms to 1h)")
	fs.String(&c.TokenFile, "token-file", "",
		"file holding a bearer token that every endpoint but /health then requires")
	fs.Bool(&c.Insecure, "insecure", false,
		"allow listening on a non-loopback address without a token")
	fs.String(&c.ProcRoot, "proc-root", "/proc", "where procfs is mounted")
	fs.String(&c.SysRoot, "sys-root", "/sys", "where sysfs is mounted")
	fs.Int(&c.MaxVMs, "max-vms", 4096, "most VMs watched at once, attached and discovered")
	fs.String(&c.AllowedHosts, "allowed-hosts", "",
		"comma-separated host names (or *.domain patterns) requests may name in Host besides the listen address, localhost and loopback addresses")
	fs.String(&c.AllowPaths, "allow-paths", DefaultAllowPaths,
		"comma-separated directories under which every path the agent opens must lie: those of POST /v1/vms, and a discovered VM's (its jail, for a jailed one)")
	fs.String(&c.TLSCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with; re-read when it changes or on SIGHUP")
	fs.String(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.String(&c.TLSClientCA, "tls-client-ca", "", "PEM CA certificates; every client must then present a certificate they signed")
	fs.Bool(&c.Discover, "discover", true,
		"find every Firecracker process on the host (plain or jailed) each interval, and read its VM without an attach")
	fs.String(&c.DiscoverScope, "discover-scope", "",
		"comma-separated directories: discover only VMs whose jail, or else API socket, lies below one (default: every VM)")
	fs.String(&c.DiscoverUIDs, "discover-uids", discovery.DefaultDiscoverUIDs,
		"comma-separated uids and uid ranges whose Firecracker processes discovery watches (default: root and the jailer block 800000000-899999999); other users' processes are never contacted")
	fs.Int(&c.GuestVsockPort, "guest-vsock-port", wire.DefaultGuestPort, "the vsock port the guest agents listen on")
	fs.String(&c.GuestAllowCIDRs, "guest-allow-cidrs", netpolicy.PrivateRanges,
		"comma-separated networks of the guest addresses (guest_addr) the agent may read guest agents at over TCP")
	fs.String(&c.KernelLog, "kernel-log", procstat.KernelLog,
		"the kernel's log, followed for the OOM killer's kills: a VMM it killed has that as its exit's reason; empty: not read")
	fs.String(&c.GuestTokenFile, "guest-token-file", "", "file holding the guest agents' token (their --token-file)")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", 5*time.Second,
		"how long requests in flight may take to finish on SIGINT or SIGTERM")
	logging.Flags(fs, &c.LogLevel, &c.LogFormat)
}

// settings is a validated Config.
type settings struct {
	token        string
	guestToken   string
	hosts        *netpolicy.Hosts
	paths        []string // clean absolute roots, symlinks resolved where they exist
	scope        []string // discovery's directories; empty: every VM
	discoverUIDs discovery.UIDSet
	guestAllow   netpolicy.List
}

// validate checks the configuration and reads the token file. Errors are
// one line, naming the flag.
func (c *Config) validate() (settings, error) {
	var s settings
	var err error
	if c.Interval < 100*time.Millisecond || c.Interval > time.Hour {
		return s, fmt.Errorf("--interval %s is out of range (100ms to 1h)", c.Interval)
	}
	if c.MaxVMs < 1 {
		return s, fmt.Errorf("--max-vms %d must be at least 1", c.MaxVMs)
	}
	if c.ShutdownTimeout <= 0 {
		return s, fmt.Errorf("--shutdown-timeout %s must be positive", c.ShutdownTimeout)
	}
	if c.TokenFile != "" {
		if s.token, err = bearer.ReadFile("--token-file", c.TokenFile); err != nil {
			return s, err
		}
	}
	loopback, err := netpolicy.IsLoopback(c.Listen)
	if err != nil {
		return s, err
	}
	if !loopback && s.token == "" && !c.Insecure {
		return s, fmt.Errorf("--listen %s is not a loopback address: give --token-file, or --insecure to serve without authentication", c.Listen)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") || (c.TLSClientCA != "" && c.TLSCert == "") {
		return s, fmt.Errorf("--tls-cert and --tls-key go together, and --tls-client-ca needs them")
	}
	if s.hosts, err = netpolicy.NewHosts(c.Listen, netpolicy.SplitList(c.AllowedHosts)); err != nil {
		return s, err
	}
	for _, p := range netpolicy.SplitList(c.AllowPaths) {
		if !filepath.IsAbs(p) {
			return s, fmt.Errorf("--allow-paths: %q is not an absolute path", p)
		}
		p = filepath.Clean(p)
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		s.paths = append(s.paths, p)
	}
	if len(s.paths) == 0 {
		return s, fmt.Errorf("--allow-paths is empty: no metrics FIFO or API socket could be opened")
	}
	for _, p := range netpolicy.SplitList(c.DiscoverScope) {
		if !filepath.IsAbs(p) {
			return s, fmt.Errorf("--discover-scope: %q is not an absolute path", p)
		}
		s.scope = append(s.scope, filepath.Clean(p))
	}
	if s.discoverUIDs, err = discovery.ParseUIDSet("--discover-uids", c.DiscoverUIDs); err != nil {
		return s, err
	}
	if c.GuestVsockPort < 1 || c.GuestVsockPort > 1<<31 {
		return s, fmt.Errorf("--guest-vsock-port %d is not a port", c.GuestVsockPort)
	}
	if s.guestAllow, err = netpolicy.ParseList("--guest-allow-cidrs", c.GuestAllowCIDRs); err != nil {
		return s, err
	}
	if c.GuestTokenFile != "" {
		if s.guestToken, err = bearer.ReadFile("--guest-token-file", c.GuestTokenFile); err != nil {
			return s, err
		}
	}
	return s, nil
}
