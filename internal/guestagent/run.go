package guestagent

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/cli"
	"github.com/fcmon/fcmon/internal/core/version"
	"github.com/fcmon/fcmon/internal/guestagent/httpd"
	"github.com/fcmon/fcmon/internal/guestagent/logfmt"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/register"
	"github.com/fcmon/fcmon/internal/guestagent/sampler"
	"github.com/fcmon/fcmon/internal/guestagent/sock"
)

// Command is the guest-agent program for cli.Main.
func Command() cli.Command {
	var cfg Config
	var listen string
	return cli.Command{
		Name: "guest-agent", EnvPrefix: "GUEST_AGENT_", Summary: summary,
		Flags: func(fs *cli.FlagSet) { flags(fs, &cfg, &listen) },
		Run: func(ctx context.Context, stderr io.Writer) error {
			level, ok := logfmt.ParseLevel(cfg.LogLevel)
			if !ok {
				return cli.Usage(errors.New("--log-level " + strconv.Quote(cfg.LogLevel) + " is not debug, info, warn or error"))
			}
			pfs := procfs.NewFS(cfg.ProcRoot, cfg.SysRoot)
			cmdline, _ := pfs.Cmdline() // absent in some containers: then nothing comes from it
			if err := cfg.validate(listen, cmdline); err != nil {
				return cli.Usage(err)
			}
			tuneRuntime()
			return Run(ctx, cfg, logfmt.New(stderr, level))
		},
	}
}

// Run serves until ctx ends, then shuts down within five seconds.
func Run(ctx context.Context, cfg Config, log *logfmt.Logger) error {
	token, err := readToken("--token-file", cfg.TokenFile)
	if err != nil {
		return cli.Usage(err)
	}
	smp := sampler.New(sampler.Options{FS: procfs.NewFS(cfg.ProcRoot, cfg.SysRoot), Version: version.Version, VMClockPath: cfg.VMClock})
	first := smp.Sample()
	for _, e := range first.Metrics.Errors {
		log.Warn("cannot read a source; its figures are left out", "source", e)
	}
	listeners, later, err := listenAll(cfg.Listen, cfg.vsockOptional, log)
	if err != nil {
		return cli.Usage(err)
	}
	h := &handler{sampler: smp, token: token}
	var mem pressure
	srv := &httpd.Server{Handler: h.serve, MaxConns: cfg.MaxConns, OnCrowded: mem.onCrowded,
		ErrorLog: func(msg string, err error) { log.Debug(msg, "err", err) }}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { smp.Run(ctx, cfg.Interval) })
	wg.Go(func() { releaseMemory(ctx, 10*time.Second, &mem) })
	serveErr := make(chan error, len(listeners)+len(later))
	serve := func(l sock.Listener) {
		log.Info("serving", "addr", l.Addr(), "interval", cfg.Interval, "auth", token != "", "version", version.Version)
		if token == "" && !loopbackOnly(l.Addr()) {
			log.Warn("metrics are readable by anyone who reaches this address; set --token-file to require a token", "addr", l.Addr())
		}
		go func() { serveErr <- srv.Serve(l) }()
	}
	for _, l := range listeners {
		serve(l)
	}
	for _, a := range later {
		wg.Go(func() { listenLater(ctx, a, log, serve) })
	}
	if cfg.RegisterURL != "" {
		rc, err := registration(cfg, listeners, log)
		if err != nil {
			return cli.Usage(err)
		}
		wg.Go(func() { register.Run(ctx, rc) })
	}
	select {
	case <-ctx.Done():
		err = nil
	case err = <-serveErr:
		err = errors.New("serving: " + err.Error())
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	srv.Shutdown(shutdownCtx)
	wg.Wait()
	log.Info("stopped")
	return err
}

// listenAll listens on every address. With vsockOptional (the default
// --listen), a vsock address the kernel cannot serve yet (no AF_VSOCK, or
// its transport not registered yet early in boot) is returned in later
// rather than failing.
func listenAll(addrs []string, vsockOptional bool, log *logfmt.Logger) (ls []sock.Listener, later []string, err error) {
	for _, a := range addrs {
		l, err := sock.Listen(a)
		if err != nil && vsockOptional && strings.HasPrefix(a, "vsock://") && sock.NoVsock(err) {
			log.Debug("vsock is not available yet; serving TCP and trying again", "addr", a, "err", err)
			later = append(later, a)
			continue
		}
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return nil, nil, err
		}
		ls = append(ls, l)
	}
	return ls, later, nil
}

// listenLater keeps trying to listen on addr (1 s doubling to 30 s) until
// it works or ctx ends, and hands the listener to serve.
func listenLater(ctx context.Context, addr string, log *logfmt.Logger, serve func(sock.Listener)) {
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if l, err := sock.Listen(addr); err == nil {
			serve(l)
			return
		}
	}
}

func registration(cfg Config, listeners []sock.Listener, log *logfmt.Logger) (register.Config, error) {
	target, _ := register.ParseURL(cfg.RegisterURL) // checked by validate
	token, err := readToken("--register-token-file", cfg.RegisterTokenFile)
	if err != nil {
		return register.Config{}, err
	}
	if token == "" {
		token = cfg.RegisterToken
	}
	rc := register.Config{Target: target, VMID: cfg.VMID, Token: token, UserAgent: "fcmon-guest-agent/" + version.Version, Log: log}
	if cfg.Advertise != "" {
		var port uint16
		rc.Advertise, port, _ = register.ParseAdvertise(cfg.Advertise)
		rc.Port = port
	}
	if rc.Port == 0 {
		rc.Port = tcpPort(listeners)
	}
	if rc.Port == 0 {
		return register.Config{}, errors.New("registration needs a TCP --listen address or a port in --advertise")
	}
	rc.RouteFile = cfg.ProcRoot + "/net/route"
	log.Info("registering with the manager", "url", target.String(), "vm_id", cfg.VMID)
	return rc, nil
}

// tcpPort is the port the first TCP listener is bound to, or 0.
func tcpPort(listeners []sock.Listener) uint16 {
	for _, l := range listeners {
		a := l.Addr()
		if strings.HasPrefix(a, "vsock://") {
			continue
		}
		i := strings.LastIndexByte(a, ':')
		if p, err := strconv.ParseUint(a[i+1:], 10, 16); i >= 0 && err == nil && p != 0 {
			return uint16(p)
		}
	}
	return 0
}

// loopbackOnly reports whether addr (as a Listener reports it) is reachable
// only from this machine. vsock counts: only the VM's host can connect.
func loopbackOnly(addr string) bool {
	if strings.HasPrefix(addr, "vsock://") {
		return true
	}
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && ap.Addr().IsLoopback()
}
