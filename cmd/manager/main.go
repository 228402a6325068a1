// Command manager is fcmon's control plane: the VM registry, the collector,
// history, live streams, the Prometheus export and the web UI. See
// internal/manager and docs/api.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/manager"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "registration-token" {
		os.Exit(manager.RegistrationTokenMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.Main(ctx, manager.Command(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
