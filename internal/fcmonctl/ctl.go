// Package fcmonctl is fcmon's command line for people: it speaks the
// manager's API (GET only: it changes nothing) and shows the fleet as
// tables, or as the manager's JSON for scripts, and bakes the guest agent
// into a VM's root file system image (install-rootfs). It imports only the
// core and deploy: the documents it reads are core/wire's.
package fcmonctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/version"
)

const usage = `fcmonctl shows what an fcmon manager knows: its VMs, their latest figures
and events, its host agents and the fleet's usage. It reads the manager's API
and changes nothing.

Usage: fcmonctl [global flags] COMMAND [flags] [arguments]

Commands:
  vms             the VMs, one line each (--label k=v, --sort cpu, --state live, ...)
  top             the busiest VMs, refreshed in place from the fleet stream
  vm ID|NAME      one VM: its latest sample and recent events
  events          events, oldest first (--follow waits for new ones)
  hosts           the host agents and how each answers
  usage           vCPU- and GiB-seconds per VM or per label value
  install-rootfs IMAGE.ext4
                  bake the guest agent and its service into an ext4 root file
                  system image, without mounting it or root (--agent PATH)

Global flags (each also an environment variable):
  --manager URL       the manager (FCMON_MANAGER; default http://127.0.0.1:8080)
  --token-file FILE   a file holding the bearer token (FCMON_TOKEN_FILE)
                      or the token itself in FCMON_TOKEN
  --ca-file FILE      CAs that sign an https:// manager's certificate (FCMON_CA_FILE)
  --cert-file FILE    client certificate, with --key-file (FCMON_CERT_FILE, FCMON_KEY_FILE)
  --output FORMAT     table or json: json prints the manager's answer (FCMON_OUTPUT)
  --timeout D         for each request (default 10s)

Run "fcmonctl COMMAND --help" for a command's flags.
`

// globals are the options every command shares.
type globals struct {
	manager, token, tokenFile string
	caFile, certFile, keyFile string
	output                    string
	timeout                   time.Duration
	stdout, stderr            io.Writer
	getenv                    func(string) string
	isTerminal                bool // stdout is a terminal: top redraws in place
	now                       func() time.Time
	followEvery               time.Duration // how often events --follow asks
}

// command is one of fcmonctl's commands.
type command struct {
	name  string
	flags func(fs *flag.FlagSet) // registers its flags
	// run does the command; args are its positional arguments.
	run func(ctx context.Context, c *client, g *globals, args []string) error
	// args is how many positional arguments it takes.
	args int
	// argsUsage names them in errors.
	argsUsage string
	// local: it works on this machine and speaks to no manager.
	local bool
}

// errUsage marks a mistake in the command line: exit status 2.
var errUsage = errors.New("usage")

// Main runs fcmonctl with args (without the program name) and returns the
// exit status: 0 done, 1 the manager refused or did not answer, 2 a wrong
// command line.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, isTerminal bool) int {
	g := &globals{stdout: stdout, stderr: stderr, getenv: getenv, isTerminal: isTerminal, now: time.Now,
		followEvery: 2 * time.Second}
	err := run(ctx, g, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "fcmonctl:", strings.TrimSuffix(strings.TrimPrefix(err.Error(), "usage: "), ": usage"))
		return 2
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return 0 // Ctrl-C ends top and events --follow
	default:
		fmt.Fprintln(stderr, "fcmonctl:", err)
		return 1
	}
}

func run(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("fcmonctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	env := func(name, def string) string {
		if v := g.getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&g.manager, "manager", env("FCMON_MANAGER", "http://127.0.0.1:8080"), "")
	fs.StringVar(&g.tokenFile, "token-file", env("FCMON_TOKEN_FILE", ""), "")
	fs.StringVar(&g.caFile, "ca-file", env("FCMON_CA_FILE", ""), "")
	fs.StringVar(&g.certFile, "cert-file", env("FCMON_CERT_FILE", ""), "")
	fs.StringVar(&g.keyFile, "key-file", env("FCMON_KEY_FILE", ""), "")
	fs.StringVar(&g.output, "output", env("FCMON_OUTPUT", "table"), "")
	fs.DurationVar(&g.timeout, "timeout", 10*time.Second, "")
	showVersion := fs.Bool("version", false, "")
	g.token = g.getenv("FCMON_TOKEN")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(g.stdout, usage)
			return err
		}
		return fmt.Errorf("%w: %w (see fcmonctl --help)", errUsage, err)
	}
	if *showVersion {
		fmt.Fprintln(g.stdout, "fcmonctl", version.Version)
		return nil
	}
	if fs.NArg() == 0 {
		io.WriteString(g.stderr, usage)
		return fmt.Errorf("%w: a command is needed", errUsage)
	}
	if g.timeout <= 0 || g.timeout > time.Hour {
		return fmt.Errorf("%w: --timeout %s is out of range (1ms to 1h)", errUsage, g.timeout)
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	var cmd *command
	for _, c := range commands() {
		if c.name == name {
			cmd = &c
		}
	}
	if cmd == nil {
		return fmt.Errorf("%w: unknown command %q; expected vms, top, vm, events, hosts, usage or install-rootfs", errUsage, name)
	}
	cfs := flag.NewFlagSet("fcmonctl "+name, flag.ContinueOnError)
	cfs.SetOutput(io.Discard)
	// The global --output may come after the command too.
	cfs.StringVar(&g.output, "output", g.output, "table or json")
	if cmd.flags != nil {
		cmd.flags(cfs)
	}
	pos, err := parseInterspersed(cfs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(g.stdout, "Usage: fcmonctl %s [flags] %s\n\nFlags:\n", name, cmd.argsUsage)
		cfs.SetOutput(g.stdout)
		cfs.PrintDefaults()
		return err
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w (see fcmonctl %s --help)", errUsage, name, err, name)
	}
	if len(pos) != cmd.args {
		if cmd.args == 0 {
			return fmt.Errorf("%w: %s takes no arguments, got %q", errUsage, name, pos)
		}
		return fmt.Errorf("%w: %s takes %s", errUsage, name, cmd.argsUsage)
	}
	if g.output != "table" && g.output != "json" {
		return fmt.Errorf("%w: --output %q is not table or json", errUsage, g.output)
	}
	if cmd.local {
		return cmd.run(ctx, nil, g, pos)
	}
	c, err := newClient(*g)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return cmd.run(ctx, c, g, pos)
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments (fcmonctl vm ID --output json), as people type them; "--"
// ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

func commands() []command {
	return []command{vmsCommand(), topCommand(), vmCommand(), eventsCommand(), hostsCommand(), usageCommand(), installRootfsCommand()}
}
