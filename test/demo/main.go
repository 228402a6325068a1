// Command demo is what make run starts (through scripts/run-local.sh): the whole
// fcmon system on this machine — manager, host agent and two QEMU guests — until
// Ctrl-C. It is run with go run and is not one of the installed programs. The
// work is in internal/testsupport/demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fcmon/fcmon/internal/testsupport/demo"
)

func main() {
	o := demo.Options{Out: os.Stdout}
	flag.StringVar(&o.Bin, "bin", "bin", "folder holding manager, host-agent and guest-agent")
	flag.StringVar(&o.DataDir, "data-dir", "data", "the manager's data folder; logs and the demo VM ids go there too")
	flag.StringVar(&o.ManagerAddr, "manager-addr", envOr("MANAGER_ADDR", "127.0.0.1:8080"), "manager's loopback address (env MANAGER_ADDR)")
	flag.StringVar(&o.HostAgentAddr, "host-agent-addr", envOr("HOST_AGENT_ADDR", "127.0.0.1:9091"), "host agent's loopback address (env HOST_AGENT_ADDR)")
	flag.IntVar(&o.StressSeconds, "stress-seconds", 8*3600, "how long the stress loop runs at most")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
