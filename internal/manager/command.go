package manager

import (
	"context"
	"io"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/logging"
)

const summary = `manager keeps a registry of Firecracker microVMs (SQLite by default, or
PostgreSQL through DATABASE_URL), reads every VM of each host agent with one
GET /v1/samples per --poll-interval (and polls guests registered without one
directly), picks each figure's best source, keeps 15 minutes of samples in
memory and 1-minute rollups for --history-retention, and serves the REST API,
WebSocket streams, events and Prometheus /metrics; managers on one PostgreSQL
share the host agents. With no flags it starts on
127.0.0.1:8080 with ./data/fcmon.db. Listening beyond loopback needs an API
token (--api-token, MANAGER_API_TOKEN or --api-token-file) or --insecure.`

// Command is the manager program for cli.Main.
func Command() cli.Command {
	var cfg Config
	return cli.Command{
		Name: "manager", EnvPrefix: "MANAGER_", Summary: summary,
		Flags: cfg.Flags,
		Run: func(ctx context.Context, stderr io.Writer) error {
			log, err := logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return cli.Usage(err)
			}
			m, err := New(cfg, log)
			if err != nil {
				return cli.Usage(err)
			}
			if err := m.Run(ctx); err != nil {
				return err
			}
			log.Info("manager stopped")
			return nil
		},
	}
}
