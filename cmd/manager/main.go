// Command manager is fcmon's control plane: a registry of Firecracker
// microVMs, a collector that polls their guest agents and falls back to
// host agents, history, live WebSocket streams and a Prometheus export.
// See internal/manager and the manager section of SPEC.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/logging"
	"github.com/fcmon/fcmon/internal/core/version"
	"github.com/fcmon/fcmon/internal/manager"
)

const summary = `manager keeps a registry of Firecracker microVMs (SQLite by default, or
PostgreSQL through DATABASE_URL), polls each VM's guest agent every
--poll-interval and falls back to its host agent, keeps 15 minutes of samples in
memory and 1-minute rollups for --history-retention, and serves the REST API,
WebSocket streams and Prometheus /metrics. With no flags it starts on
127.0.0.1:8080 with ./data/fcmon.db. Listening beyond loopback needs an API
token (--api-token, MANAGER_API_TOKEN or --api-token-file) or --insecure.`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var cfg manager.Config
	var logLevel, logFormat string
	fs := cli.New("manager", "MANAGER_", summary)
	cfg.Flags(fs)
	fs.String(&logLevel, "log-level", "info", "least severe log level written: debug, info, warn or error")
	fs.String(&logFormat, "log-format", "text", "log format on stderr: text or json")
	switch err := fs.Parse(args, manager.EnvWithDatabaseURL(os.Getenv)); {
	case errors.Is(err, cli.ErrHelp):
		fs.WriteUsage(os.Stdout)
		return 0
	case errors.Is(err, cli.ErrVersion):
		fmt.Println("manager", version.Version)
		return 0
	case err != nil:
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 2
	}
	log, err := logging.New(os.Stderr, logLevel, logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 2
	}
	m, err := manager.New(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		log.Error("manager failed", "err", err)
		return 1
	}
	log.Info("manager stopped")
	return 0
}
