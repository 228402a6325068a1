// Command fcmonctl shows what an fcmon manager knows from a terminal: its
// VMs, the busiest of them, one VM's figures and events, the host agents
// and the fleet's usage. See internal/fcmonctl.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fcmon/fcmon/internal/fcmonctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	st, err := os.Stdout.Stat()
	terminal := err == nil && st.Mode()&os.ModeCharDevice != 0
	code := fcmonctl.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, terminal)
	stop()
	os.Exit(code)
}
