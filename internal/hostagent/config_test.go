package hostagent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/cli"
)

func defaultConfig(t *testing.T) Config {
	t.Helper()
	var c Config
	fs := cli.New("host-agent", "HOST_AGENT_", "")
	c.Flags(fs)
	if err := fs.Parse(nil, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	// Tests attach what they watch: other tests' Firecracker stand-ins on
	// this machine must not be discovered.
	c.Discover = false
	return c
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("s3cret\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"ipv6 loopback", func(c *Config) { c.Listen = "[::1]:9091" }, ""},
		{"localhost", func(c *Config) { c.Listen = "localhost:9091" }, ""},
		{"all interfaces refused", func(c *Config) { c.Listen = "0.0.0.0:9091" }, "not a loopback address"},
		{"empty host refused", func(c *Config) { c.Listen = ":9091" }, "not a loopback address"},
		{"host name refused", func(c *Config) { c.Listen = "example.org:9091" }, "not a loopback address"},
		{"with token", func(c *Config) { c.Listen = "0.0.0.0:9091"; c.TokenFile = token }, ""},
		{"insecure", func(c *Config) { c.Listen = "0.0.0.0:9091"; c.Insecure = true }, ""},
		{"no port", func(c *Config) { c.Listen = "127.0.0.1" }, "is not host:port"},
		{"interval too short", func(c *Config) { c.Interval = 10 * time.Millisecond }, "--interval 10ms is out of range"},
		{"missing token file", func(c *Config) { c.TokenFile = filepath.Join(dir, "nope") }, "--token-file"},
		{"empty token file", func(c *Config) { c.TokenFile = empty }, "is empty"},
		{"max vms", func(c *Config) { c.MaxVMs = 0 }, "--max-vms"},
		{"relative allow path", func(c *Config) { c.AllowPaths = "run" }, "--allow-paths"},
		{"empty allow paths", func(c *Config) { c.AllowPaths = " , " }, "--allow-paths is empty"},
		{"bad allowed host", func(c *Config) { c.AllowedHosts = "http://x" }, "--allowed-hosts"},
		{"tls cert without key", func(c *Config) { c.TLSCert = "/x.crt" }, "--tls-cert and --tls-key"},
		{"client ca without cert", func(c *Config) { c.TLSClientCA = "/ca.crt" }, "--tls-client-ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaultConfig(t)
			tt.edit(&c)
			_, err := c.validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
	c := defaultConfig(t)
	c.TokenFile = token
	if s, err := c.validate(); s.token != "s3cret" || err != nil {
		t.Fatalf("token %q, %v", s.token, err)
	}
}
