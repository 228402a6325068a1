package hostagent

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/cli"
)

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
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// a signal.
	ShutdownTimeout time.Duration
}

// Flags registers the configuration's flags, with their defaults, on fs.
func (c *Config) Flags(fs *cli.FlagSet) {
	fs.String(&c.Listen, "listen", "127.0.0.1:9091",
		"address of the HTTP API; a non-loopback address needs --token-file or --insecure")
	fs.Duration(&c.Interval, "interval", time.Second,
		"sampling period of process and tap counters, and of FlushMetrics calls (100ms to 1h)")
	fs.String(&c.TokenFile, "token-file", "",
		"file holding a bearer token that every endpoint but /health then requires")
	fs.Bool(&c.Insecure, "insecure", false,
		"allow listening on a non-loopback address without a token")
	fs.String(&c.ProcRoot, "proc-root", "/proc", "where procfs is mounted")
	fs.String(&c.SysRoot, "sys-root", "/sys", "where sysfs is mounted")
	fs.Int(&c.MaxVMs, "max-vms", 1000, "most VMs that may be attached at once")
	fs.Duration(&c.ShutdownTimeout, "shutdown-timeout", 5*time.Second,
		"how long requests in flight may take to finish on SIGINT or SIGTERM")
}

// Validate checks the configuration and reads the token file, returning the
// token ("" without one). Errors are one line, naming the flag.
func (c *Config) Validate() (token string, err error) {
	if c.Interval < 100*time.Millisecond || c.Interval > time.Hour {
		return "", fmt.Errorf("--interval %s is out of range (100ms to 1h)", c.Interval)
	}
	if c.MaxVMs < 1 {
		return "", fmt.Errorf("--max-vms %d must be at least 1", c.MaxVMs)
	}
	if c.ShutdownTimeout <= 0 {
		return "", fmt.Errorf("--shutdown-timeout %s must be positive", c.ShutdownTimeout)
	}
	if c.TokenFile != "" {
		if token, err = readToken(c.TokenFile); err != nil {
			return "", err
		}
	}
	loopback, err := isLoopback(c.Listen)
	if err != nil {
		return "", err
	}
	if !loopback && token == "" && !c.Insecure {
		return "", fmt.Errorf("--listen %s is not a loopback address: give --token-file, or --insecure to serve without authentication", c.Listen)
	}
	return token, nil
}

// readToken reads a token file; surrounding whitespace (a trailing newline)
// is not part of the token.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--token-file %s is empty", path)
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("--token-file %s holds more than one word; a token has no whitespace", path)
	}
	return token, nil
}

// isLoopback reports whether addr (host:port) listens on loopback only. An
// empty host means every interface; a host name other than localhost might
// resolve anywhere, so it counts as non-loopback.
func isLoopback(addr string) (bool, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		msg := err.Error()
		var ae *net.AddrError
		if errors.As(err, &ae) {
			msg = ae.Err
		}
		return false, fmt.Errorf("--listen %q is not host:port: %s", addr, msg)
	}
	if port == "" {
		return false, fmt.Errorf("--listen %q has no port", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}
