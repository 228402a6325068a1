// Package guestagent is the guest agent program: configuration, the HTTP
// routes, and the wiring of sampler, listeners and self-registration.
// cmd/guest-agent only calls Main.
package guestagent

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/bearer"
	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/register"
)

// Config is the agent's configuration after flags, environment and the
// kernel command line have been applied.
type Config struct {
	Listen            []string
	Interval          time.Duration
	TokenFile         string
	RegisterURL       string
	VMID              string
	Advertise         string
	RegisterTokenFile string
	// RegisterToken is the VM's registration credential from the kernel
	// command line (guest_agent.register_token=) or the config file
	// (REGISTER_TOKEN=); --register-token-file wins over it.
	RegisterToken     string
	ProcRoot, SysRoot string
	VMClock           string // the VMClock device's path; "" reads none
	LogLevel          string
	MaxConns          int
	// ConfigFile is the original agent's configuration file (VM_ID= and
	// MANAGER_URL= lines), read when present.
	ConfigFile string
	// vsockOptional: the vsock listener comes from the default --listen,
	// so a kernel without AF_VSOCK serves TCP only, silently.
	vsockOptional bool
}

// defaultListen serves TCP on every IPv4 address and vsock, both on the
// guest agent's port.
var defaultListen = "0.0.0.0:" + strconv.Itoa(wire.DefaultGuestPort) + ",vsock://:" + strconv.Itoa(wire.DefaultGuestPort)

const summary = `guest-agent serves this machine's CPU, memory, disk and network metrics from
/proc and /sys: GET /metrics (JSON, or Prometheus text on request) and
GET /health. It is read-only and never runs commands.

Registration settings may also come from the kernel command line, which a VM
launcher controls: guest_agent.register_url=, guest_agent.vm_id=,
guest_agent.register_token= (the VM's own registration credential, never the
manager's API token) and guest_agent.advertise=, and from the original agent's
/etc/guest-agent.conf (VM_ID=, MANAGER_URL= and REGISTER_TOKEN= lines). Flags and environment variables take
precedence, then the kernel command line, then the file.`

func flags(fs *cli.FlagSet, c *Config, listen *string) {
	fs.String(listen, "listen", defaultListen, "comma-separated addresses to serve on: HOST:PORT, [IPv6]:PORT, :PORT (all interfaces) or vsock://:PORT; by default vsock only when the kernel has it")
	fs.Duration(&c.Interval, "interval", time.Second, "sampling period; percentages and rates cover the last complete period")
	fs.String(&c.TokenFile, "token-file", "", "file holding a token that GET /metrics then requires as 'Authorization: Bearer <token>' (/health stays open)")
	fs.String(&c.RegisterURL, "register-url", "", "manager URL (http://host:port) to register this VM's address with")
	fs.String(&c.VMID, "vm-id", "", "this VM's id in the manager, used with --register-url")
	fs.String(&c.Advertise, "advertise", "", "ADDR[:PORT] to register instead of the default route's address and the --listen port")
	fs.String(&c.RegisterTokenFile, "register-token-file", "", "file holding this VM's registration credential (manager registration-token); never the manager's API token")
	fs.String(&c.ProcRoot, "procfs", "/proc", "where procfs is mounted")
	fs.String(&c.SysRoot, "sysfs", "/sys", "where sysfs is mounted")
	fs.String(&c.VMClock, "vmclock", procfs.DefaultVMClockPath, "the VMClock device, read when present for restores from snapshots (its generation counter); empty: none")
	fs.String(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.String(&c.ConfigFile, "config-file", "/etc/guest-agent.conf", "the original agent's configuration file, read when present: VM_ID= and MANAGER_URL= lines")
	fs.Int(&c.MaxConns, "max-conns", 128, "most connections served at once; the oldest incomplete request, else the oldest idle connection, is closed to admit a new one")
}

// kernelArgs returns the guest_agent.* parameters of a kernel command line.
// Values may be double-quoted; everything after "--" belongs to init and is
// ignored.
func kernelArgs(cmdline string) map[string]string {
	out := make(map[string]string)
	for s := strings.TrimSpace(cmdline); s != ""; s = strings.TrimLeft(s, " \t\n") {
		var tok string
		i := 0
		for inQuote := false; i < len(s) && (inQuote || (s[i] != ' ' && s[i] != '\t' && s[i] != '\n')); i++ {
			if s[i] == '"' {
				inQuote = !inQuote
			}
		}
		tok, s = s[:i], s[i:]
		if tok == "--" {
			break
		}
		key, value, ok := strings.Cut(tok, "=")
		if name, isOurs := strings.CutPrefix(key, "guest_agent."); isOurs && ok {
			out[name] = strings.ReplaceAll(value, `"`, "")
		}
	}
	return out
}

// readConfFile reads the original agent's configuration file: KEY=value
// lines (values may be quoted, # starts a comment). A missing file is no
// error.
func readConfFile(path string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, errors.New("--config-file: " + err.Error())
	}
	if len(b) > 64<<10 {
		return nil, errors.New("--config-file " + path + " is over 64 KiB; expected a few KEY=value lines")
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		out[strings.TrimSpace(key)] = value
	}
	return out, nil
}

// validate checks the configuration and fills what the kernel command line
// and the original agent's configuration file provide, returning the first
// problem as a one-line error.
func (c *Config) validate(listen, cmdline string) error {
	c.vsockOptional = listen == defaultListen
	for _, a := range strings.Split(listen, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Listen = append(c.Listen, a)
		}
	}
	if len(c.Listen) == 0 {
		return errors.New("--listen needs at least one address")
	}
	if c.Interval < 100*time.Millisecond || c.Interval > time.Hour {
		return errors.New("--interval " + c.Interval.String() + " is outside 100ms to 1h")
	}
	if c.MaxConns < 1 {
		return errors.New("--max-conns must be at least 1")
	}
	k := kernelArgs(cmdline)
	fill := func(v *string, key string) {
		if *v == "" {
			*v = k[key]
		}
	}
	fill(&c.RegisterURL, "register_url")
	fill(&c.VMID, "vm_id")
	fill(&c.Advertise, "advertise")
	fill(&c.RegisterToken, "register_token")
	conf, err := readConfFile(c.ConfigFile)
	if err != nil {
		return err
	}
	if c.RegisterURL == "" && c.VMID == "" {
		c.RegisterURL, c.VMID = conf["MANAGER_URL"], conf["VM_ID"]
		if c.RegisterToken == "" {
			c.RegisterToken = conf["REGISTER_TOKEN"]
		}
	}
	for i := 0; i < len(c.RegisterToken); i++ {
		if c.RegisterToken[i] <= ' ' || c.RegisterToken[i] > '~' {
			return errors.New("the registration token holds a character that is not printable ASCII")
		}
	}
	if (c.RegisterURL == "") != (c.VMID == "") {
		return errors.New("registration needs both --register-url and --vm-id (or guest_agent.register_url= and guest_agent.vm_id= on the kernel command line, or MANAGER_URL= and VM_ID= in --config-file)")
	}
	if c.RegisterURL != "" {
		if _, err := register.ParseURL(c.RegisterURL); err != nil {
			return err
		}
		if !register.ValidVMID(c.VMID) {
			return errors.New("vm id " + strconv.Quote(c.VMID) + " must be 1 to 128 letters, digits, '-', '_' or '.'")
		}
	}
	if c.Advertise != "" {
		if _, _, err := register.ParseAdvertise(c.Advertise); err != nil {
			return err
		}
	}
	return nil
}

// readToken reads the token file of flag, "" when path is empty.
func readToken(flag, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	return bearer.ReadFile(flag, path)
}
