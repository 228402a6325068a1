// Package hostagent is the host agent: it runs beside Firecracker on each
// host and serves, over HTTP, what a guest cannot report about itself — the
// VMM process's CPU and memory, Firecracker's own network and disk figures
// from its metrics FIFO, and tap counters — for every VM attached to it.
//
// This package is the wiring: the configuration, and the parts it builds
// and runs — the VM table (vmtable), discovery feeding it, the HTTP API
// reading it (serve) — and the order they stop in.
package hostagent

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/tlsconf"
	"github.com/fcmon/fcmon/internal/core/version"
	"github.com/fcmon/fcmon/internal/hostagent/discovery"
	"github.com/fcmon/fcmon/internal/hostagent/serve"
	"github.com/fcmon/fcmon/internal/hostagent/vmtable"
)

// Agent is the host agent. Create it with New, serve it with Serve; Close
// detaches everything.
type Agent struct {
	cfg   Config
	set   settings
	token string
	log   *slog.Logger
	tls   *tlsconf.Server // nil: plain HTTP
	*vmtable.Table
}

// ErrDiscovered is returned by Detach for a VM that is there because
// discovery found its Firecracker process: it leaves when the process does.
var ErrDiscovered = serve.ErrDiscovered

// New validates cfg and returns an Agent. Its errors are one line, fit to
// print before exiting.
func New(cfg Config, log *slog.Logger) (*Agent, error) {
	set, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	table, err := vmtable.New(vmtable.Options{ProcRoot: cfg.ProcRoot, SysRoot: cfg.SysRoot, Interval: cfg.Interval,
		MaxVMs: cfg.MaxVMs, KernelLog: cfg.KernelLog, GuestVsockPort: uint32(cfg.GuestVsockPort), AllowPaths: set.paths,
		GuestAllow: set.guestAllow, GuestToken: set.guestToken, Log: log})
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, set: set, token: set.token, log: log, Table: table}
	if cfg.Discover {
		for _, o := range discovery.SubIDOverlaps(set.discoverUIDs, "/etc/subuid", "/etc/subgid") {
			log.Warn("--discover-uids meets a user's subordinate ids: processes of that user's namespaces would be discovered", "entry", o)
		}
	}
	if cfg.TLSCert != "" {
		a.tls, err = tlsconf.NewServer(tlsconf.ServerOptions{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey,
			ClientCAFile: cfg.TLSClientCA, OnReloadError: func(err error) {
				log.Error("re-reading the TLS certificate failed; serving the previous one", "err", err)
			}})
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Handler returns the HTTP API (see serve.Handler) over the VM table.
func (a *Agent) Handler() http.Handler {
	return serve.Handler(serve.Options{Host: a.Host(), Token: a.token, Hosts: a.set.hosts, Interval: a.cfg.Interval, Log: a.log})
}

// Run serves the agent on its configured address until ctx ends, then
// shuts down (see Serve).
func (a *Agent) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return err
	}
	return a.Serve(ctx, ln)
}

// Serve answers requests on ln (over TLS when configured) and samples in
// the background until ctx ends; it then stops accepting, gives requests
// in flight up to ShutdownTimeout, and detaches every VM. SIGHUP re-reads
// the TLS files. It returns nil after a clean shutdown.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	bg, stopBg := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.Table.Run(bg) })
	if a.cfg.Discover {
		wg.Go(func() {
			discovery.Run(bg, discovery.Options{ProcRoot: a.cfg.ProcRoot, Interval: a.cfg.Interval, Allow: a.set.paths,
				Scope: a.set.scope, UIDs: a.set.discoverUIDs, VMs: a.Table, Logger: a.log})
		})
	}
	if a.tls != nil {
		wg.Go(func() { a.tls.ReloadOnHangup(bg, a.log) })
	}
	defer func() {
		stopBg()
		wg.Wait()
		a.Close()
	}()
	return httpapi.Server{
		Handler:           a.Handler(),
		TLS:               a.tls,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ShutdownTimeout:   a.cfg.ShutdownTimeout,
		Log:               a.log,
		Listening:         "host agent listening",
		LogAttrs: []any{"interval", a.cfg.Interval.String(), "auth", a.token != "", "discover", a.cfg.Discover,
			"version", version.Version},
	}.Run(ctx, ln)
}
