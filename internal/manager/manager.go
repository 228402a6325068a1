// Package manager is the manager program: its configuration and the wiring
// of store, collector, history, live stream, Prometheus export and HTTP API
// into one process that runs until its context ends. cmd/manager runs
// Command through cli.Main.
package manager

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/tick"
	"github.com/fcmon/fcmon/internal/core/tlsconf"
	"github.com/fcmon/fcmon/internal/core/version"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
	"github.com/fcmon/fcmon/internal/manager/api"
	"github.com/fcmon/fcmon/internal/manager/cluster"
	"github.com/fcmon/fcmon/internal/manager/collector"
	"github.com/fcmon/fcmon/internal/manager/events"
	"github.com/fcmon/fcmon/internal/manager/export"
	"github.com/fcmon/fcmon/internal/manager/history"
	"github.com/fcmon/fcmon/internal/manager/hub"
	"github.com/fcmon/fcmon/internal/manager/registry"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// Subprotocol is the WebSocket subprotocol the streams agree to. A browser
// that sends its token as the "bearer.<token>" subprotocol must offer this
// one too, as browsers abort a handshake in which none is echoed.
const Subprotocol = "fcmon.v1"

// Manager is a configured manager. Create it with New, run it with Run.
type Manager struct {
	cfg       Config
	set       settings
	log       *slog.Logger
	tls       *tlsconf.Server // nil: plain HTTP
	hostAgent *tls.Config     // for https:// host agents; nil: Go's defaults
}

// New validates cfg and returns a Manager. Its errors are one line, fit to
// print before exiting with a usage status; nothing is opened yet.
func New(cfg Config, log *slog.Logger) (*Manager, error) {
	set, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, set: set, log: log}
	onReload := func(err error) {
		log.Error("re-reading a changed TLS file failed; using the previous one", "err", err)
	}
	if cfg.TLSCert != "" {
		if m.tls, err = tlsconf.NewServer(tlsconf.ServerOptions{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey,
			ClientCAFile: cfg.TLSClientCA, OnReloadError: onReload}); err != nil {
			return nil, err
		}
	}
	m.hostAgent, err = tlsconf.NewClient(tlsconf.ClientOptions{CAFile: cfg.HostAgentCA, CertFile: cfg.HostAgentCert,
		KeyFile: cfg.HostAgentKey, CAFlag: "--host-agent-ca", CertFlag: "--host-agent-cert", OnReloadError: onReload})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Run opens the database (creating the SQLite directory and migrating the
// schema), listens on the configured address and serves until ctx ends (see
// Serve).
func (m *Manager) Run(ctx context.Context) error {
	st, err := m.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", m.cfg.Listen)
	if err != nil {
		return err
	}
	return m.Serve(ctx, st, ln)
}

// openStore creates the SQLite directory (mode 0700) when needed and opens
// the database.
func (m *Manager) openStore(ctx context.Context) (store.Store, error) {
	if m.set.sqliteDir != "" {
		if err := os.MkdirAll(m.set.sqliteDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the data directory: %w", err)
		}
	}
	st, err := store.Open(ctx, m.set.databaseURL)
	if err != nil {
		return nil, fmt.Errorf("opening the database %s: %w", redact(m.set.databaseURL), err)
	}
	m.log.Info("database open", "database", redact(m.set.databaseURL))
	return st, nil
}

// parts are the manager's components, built by build.
type parts struct {
	events  *events.Recorder
	reg     *registry.Registry
	coll    *collector.Collector
	hist    *history.History
	hub     *hub.Hub
	metrics *export.Metrics
	cluster *cluster.Cluster
	api     *api.API
	handler http.Handler
}

// fleetEvery is how often the fleet stream's clients get a summary (the
// poll interval when that is longer).
const fleetEvery = 2 * time.Second

// publishFleet sends the fleet summaries to the fleet stream's clients
// every fleetEvery while there are any, until ctx ends.
func (p *parts) publishFleet(ctx context.Context, every time.Duration, log *slog.Logger) {
	tick.Every(ctx, max(fleetEvery, every), func() {
		// One summary for each selection the clients hold (a scoped
		// token's, or a ?label= of the stream); none without clients.
		for _, sel := range p.hub.FleetSelections() {
			f, err := p.api.FleetOf(ctx, sel, "")
			if err != nil {
				log.Warn("fleet summary for the stream", "selection", sel.String(), "err", err)
				continue
			}
			p.hub.PublishFleetOf(sel, f)
		}
	})
}

// build wires the components over st; url is where the other managers
// reach this one.
func (m *Manager) build(st store.Store, url string) *parts {
	p := &parts{}
	p.hub = hub.New(hub.Options{OriginPatterns: m.set.origins, Subprotocols: []string{Subprotocol},
		MaxClients: m.cfg.MaxStreams, Logger: m.log.With("part", "hub")})
	var promHandler *export.Handler
	p.metrics, promHandler = export.NewRegistry(p.latest, func() (int, uint64) {
		return p.hub.Subscribers(), p.hub.Dropped()
	}, m.set.promLabels)
	p.hist = history.New(history.Options{Store: countingStore{st, p.metrics.RollupsWritten},
		Retention: m.set.retention, Logger: m.log.With("part", "history"), Remote: p.remoteHistory(m.set.tsdb)})
	p.events = events.New(events.Options{Store: st, Logger: m.log.With("part", "events"), Retention: m.set.retention,
		Count: p.metrics.Event, Publish: p.hub.PublishEvent,
		Shared: st.Backend() == "postgres", Listeners: p.hub.Subscribers}) // other managers may share PostgreSQL
	p.reg = registry.New(registry.Options{Store: st, Limits: m.set.limits, OnEvent: p.events.Add, Logger: m.log.With("part", "registry")})
	p.cluster = cluster.New(cluster.Options{Store: st, Name: m.cfg.Listen, URL: url, OnGrow: p.reg.HostsChanged,
		Allow: m.set.hostAllow, Token: m.set.apiToken, Logger: m.log.With("part", "cluster")})
	hosts := agentclient.NewHostAgents(agentclient.Options{Allow: m.set.hostAllow, Token: m.set.hostToken, TLS: m.hostAgent})
	p.coll = collector.New(collector.Options{
		Targets:         p.reg.Targets,
		PollInterval:    m.cfg.PollInterval,
		GuestAllow:      m.set.guestAllow,
		HostAgents:      hosts,
		GuestAgentToken: m.set.guestToken,
		Logger:          m.log.With("part", "collector"),
		OnSample: func(s wire.CombinedSample) {
			p.hist.Add(s)
			p.hub.Publish(s)
			p.metrics.SampleProduced()
		},
		OnPoll:            p.metrics.ObservePoll,
		OnEvent:           p.events.Add,
		ClockSkew:         offWhenZero(m.cfg.ClockSkew),
		CrossCheckAfter:   offWhenZero(m.cfg.CrossCheckAfter),
		ThrottleThreshold: float64(m.cfg.ThrottleThreshold),
		ThrottleFor:       offWhenZero(m.cfg.ThrottleFor),
		Hosts:             p.heldHosts,
		Register:          p.reg.Register,
	})
	p.api = api.New(api.Options{
		Store: p.reg.Writes(st), Cache: p.reg, Samples: p.coll, History: historyQuery{p.hist},
		Streams: p.hub, Metrics: promHandler, PrometheusLabels: m.set.promLabels, PollInterval: m.cfg.PollInterval,
		Forget: func(id string) {
			p.coll.Forget(id)
			p.hist.Forget(id)
			p.reg.Forget(id)
		},
		HostAgents: hosts,
		HostView: func(h store.Host) wire.Host {
			st, ok := p.coll.HostStatus(h.ID)
			return hostView(h, st, ok)
		},
		Cluster:        p.cluster,
		Keys:           m.set.keys,
		GuestAllow:     m.set.guestAllow,
		HostAgentAllow: m.set.hostAllow,
		Hosts:          m.set.hosts,
		AllowedOrigin:  m.originAllowed,
		Logger:         m.log.With("part", "api"),
	})
	p.handler = p.api.Handler()
	return p
}

// offWhenZero maps a flag's 0 ("off") to the collector's negative.
func offWhenZero(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// originAllowed reports whether a web origin's host matches
// --allowed-origins.
func (m *Manager) originAllowed(host string) bool {
	for _, pat := range m.set.origins {
		if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(host)); ok {
			return true
		}
	}
	return false
}

// Serve runs the manager over st, answering on ln, until ctx ends. It then
// stops accepting, closes the WebSocket streams, gives requests in flight
// up to ShutdownTimeout, stops polling and has the history write what it
// holds before returning. It returns nil after a clean shutdown.
func (m *Manager) Serve(ctx context.Context, st store.Store, ln net.Listener) error {
	if err := m.addHostAgents(ctx, st); err != nil {
		return err
	}
	url := m.set.advertise
	if m.cfg.AdvertiseURL == "" { // the address actually bound (--listen may say port 0)
		scheme := "http://"
		if m.tls != nil {
			scheme = "https://"
		}
		url = scheme + ln.Addr().String()
	}
	p := m.build(st, url)
	// The history outlives the collector so that it records the last
	// samples; both end before the store closes.
	histCtx, stopHist := context.WithCancel(context.WithoutCancel(ctx))
	collCtx, stopColl := context.WithCancel(ctx)
	var histWG, collWG sync.WaitGroup
	histWG.Go(func() { m.logRunError("history", p.hist.Run(histCtx)) })
	histWG.Go(func() { p.events.Run(histCtx) })
	collWG.Go(func() { p.reg.Run(collCtx, m.set.retention) })
	collWG.Go(func() { p.dropForgotten(collCtx) })
	collWG.Go(func() { p.cluster.Run(collCtx) })
	// The first round decides which host agents are this manager's.
	select {
	case <-p.cluster.First():
	case <-time.After(cluster.TTL):
	case <-ctx.Done():
	}
	collWG.Go(func() { m.logRunError("collector", p.coll.Run(collCtx)) })
	collWG.Go(func() { p.publishFleet(collCtx, m.cfg.PollInterval, m.log.With("part", "fleet")) })
	if p.cluster.Shared() {
		collWG.Go(func() {
			p.cluster.RelayWatched(collCtx, m.cfg.PollInterval, cluster.Relay{Watchers: p.hub, Latest: p.coll.Latest, VMs: p.reg.CurrentVMs})
		})
	}
	if m.tls != nil {
		collWG.Go(func() { m.tls.ReloadOnHangup(collCtx, m.log) })
	}
	if m.cfg.TokensFile != "" {
		collWG.Go(func() { m.reloadTokensOnHangup(collCtx) })
	}
	defer func() {
		stopColl()
		collWG.Wait()
		stopHist()
		histWG.Wait()
	}()
	err := httpapi.Server{
		Handler:           p.handler,
		TLS:               m.tls,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       m.cfg.ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ShutdownTimeout:   m.cfg.ShutdownTimeout,
		OnShutdown:        p.hub.Close,
		Log:               m.log,
		Listening:         "manager listening",
		LogAttrs:          []any{"poll_interval", m.cfg.PollInterval.String(), "auth", !m.set.keys.Open(), "version", version.Version},
	}.Run(ctx, ln)
	if err == nil {
		m.log.Info("shutting down")
	}
	return err
}

func (m *Manager) logRunError(part string, err error) {
	if err != nil {
		m.log.Error(part+" stopped", "err", err)
	}
}

// historyQuery adapts the history to the API, turning a range it refuses
// into a 400.
type historyQuery struct{ h *history.History }

func (q historyQuery) Query(ctx context.Context, vmID string, sinceMs, untilMs, stepMs int64) (wire.History, error) {
	res, err := q.h.Query(ctx, vmID, sinceMs, untilMs, stepMs)
	if errors.Is(err, history.ErrBadRange) {
		return res, httpapi.BadRequest("%v", err)
	}
	if errors.Is(err, history.ErrRemote) {
		return res, httpapi.Errorf(http.StatusBadGateway, "%v", err)
	}
	return res, err
}

// reloadTokensOnHangup rereads --tokens-file on every SIGHUP until ctx
// ends: a removed token is refused at once (its streams end), the others
// and their streams go on. A file that does not read keeps the tokens as
// they were.
func (m *Manager) reloadTokensOnHangup(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if n, err := m.set.keys.Reload(); err != nil {
				m.log.Error("SIGHUP: re-reading the tokens file failed; the tokens stay as they were", "err", err)
			} else {
				m.log.Info("SIGHUP: tokens file re-read", "tokens", n)
			}
		}
	}
}
