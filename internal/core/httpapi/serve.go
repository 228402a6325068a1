package httpapi

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/fcmon/fcmon/internal/core/tlsconf"
)

// Server is what Run needs to serve one listener until shutdown.
type Server struct {
	Handler http.Handler
	// TLS, when set, serves HTTPS with its certificate files.
	TLS *tlsconf.Server
	// ReadHeaderTimeout bounds the arrival of a request head; ReadTimeout
	// the whole request, body included (a body trickled at a byte a second
	// is cut off); WriteTimeout the answer (0: none, for servers that
	// stream); IdleTimeout a kept-alive connection between requests.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                                            int
	// ShutdownTimeout bounds the wait for requests in flight.
	ShutdownTimeout time.Duration
	// OnShutdown runs when shutdown starts (WebSockets close there: net/http
	// does not wait for hijacked connections).
	OnShutdown func()
	Log        *slog.Logger
	// Listening is logged as the message once serving, with the address;
	// tests wait for it.
	Listening string
	// LogAttrs are added to the Listening line.
	LogAttrs []any
}

// Run serves ln until ctx ends; then it stops accepting, runs OnShutdown,
// gives requests in flight up to ShutdownTimeout and returns nil, or the
// error that ended serving early. A listener beyond loopback without TLS
// gets a warning in the log: tokens and figures would cross the network in
// clear text.
func (s Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    s.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	if s.OnShutdown != nil {
		srv.RegisterOnShutdown(s.OnShutdown)
	}
	scheme := "http"
	if s.TLS != nil {
		scheme = "https"
		ln = tls.NewListener(ln, s.TLS.Config())
	} else if !onLoopback(ln.Addr()) {
		s.Log.Warn("serving plain HTTP beyond loopback: bearer tokens and figures cross the network in clear text; give --tls-cert and --tls-key",
			"addr", ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.Log.Info(s.Listening, append([]any{"addr", ln.Addr().String(), "scheme", scheme}, s.LogAttrs...)...)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		s.Log.Warn("requests still running at the shutdown deadline", "err", err)
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func onLoopback(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().IsLoopback()
}
