// Package tlsconf builds the TLS configurations of the manager and the host
// agent from certificate files: a server that re-reads its certificate when
// the files change (or on Reload, which the programs call on SIGHUP) and
// can require client certificates, and a client that trusts a chosen CA and
// can present a certificate of its own.
package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// checkEvery is how often, at most, a handshake looks whether the files
// changed.
const checkEvery = time.Second

// keyPair is a certificate and key read from files, re-read when either
// file's size or modification time changes.
type keyPair struct {
	certFile, keyFile string

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string // sizes and mtimes the cert was read with
	checkedAt time.Time
	onError   func(error)
}

func loadKeyPair(certFile, keyFile string, onError func(error)) (*keyPair, error) {
	k := &keyPair{certFile: certFile, keyFile: keyFile, onError: onError}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

func stamp(files ...string) (string, error) {
	s := ""
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}

// reload reads the files now; on error the previous certificate stays.
func (k *keyPair) reload() error {
	st, err := stamp(k.certFile, k.keyFile)
	if err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("loading %s and %s: %w", k.certFile, k.keyFile, err)
	}
	k.mu.Lock()
	k.cert, k.stamp, k.checkedAt = &c, st, time.Now()
	k.mu.Unlock()
	return nil
}

// current returns the certificate, first re-reading the files if they
// changed since the last look (at most once per checkEvery).
func (k *keyPair) current() *tls.Certificate {
	k.mu.Lock()
	due := time.Since(k.checkedAt) >= checkEvery
	if due {
		k.checkedAt = time.Now()
	}
	cert, old := k.cert, k.stamp
	k.mu.Unlock()
	if due {
		if st, err := stamp(k.certFile, k.keyFile); err == nil && st != old {
			if err := k.reload(); err != nil && k.onError != nil {
				k.onError(err)
			}
			k.mu.Lock()
			cert = k.cert
			k.mu.Unlock()
		}
	}
	return cert
}

// Server is a server's TLS configuration over certificate files.
type Server struct {
	pair     *keyPair
	clientCA string

	mu   sync.Mutex
	pool *x509.CertPool // nil: client certificates are not asked for
}

// ServerOptions name the files of a server's TLS configuration.
type ServerOptions struct {
	CertFile, KeyFile string // PEM certificate (chain) and key; required
	// ClientCAFile, when set, makes every client present a certificate
	// signed by one of its CAs.
	ClientCAFile string
	// OnReloadError hears of a changed file that could not be read; the
	// certificate in use stays.
	OnReloadError func(error)
}

// NewServer reads the files once; an error names the file at fault.
func NewServer(o ServerOptions) (*Server, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together; give both")
	}
	pair, err := loadKeyPair(o.CertFile, o.KeyFile, o.OnReloadError)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	s := &Server{pair: pair, clientCA: o.ClientCAFile}
	if o.ClientCAFile != "" {
		if s.pool, err = readPool(o.ClientCAFile); err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
	}
	return s, nil
}

// Reload re-reads every file now (the programs call it on SIGHUP). On
// error nothing changes.
func (s *Server) Reload() error {
	var pool *x509.CertPool
	if s.clientCA != "" {
		var err error
		if pool, err = readPool(s.clientCA); err != nil {
			return err
		}
	}
	if err := s.pair.reload(); err != nil {
		return err
	}
	s.mu.Lock()
	if pool != nil {
		s.pool = pool
	}
	s.mu.Unlock()
	return nil
}

// RequiresClientCert reports whether clients must present a certificate.
func (s *Server) RequiresClientCert() bool { return s.clientCA != "" }

// Config returns the tls.Config to serve with (TLS 1.2 or newer, HTTP/1.1
// and HTTP/2 offered).
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"},
				Certificates: []tls.Certificate{*s.pair.current()}}
			s.mu.Lock()
			if s.pool != nil {
				c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, s.pool
			}
			s.mu.Unlock()
			return c, nil
		},
	}
}

// ClientOptions name the files of a client's TLS configuration.
type ClientOptions struct {
	// CAFile holds the CAs that sign the servers' certificates; empty
	// means the system's roots.
	CAFile string
	// CertFile and KeyFile, when set, are presented to servers that ask
	// for a client certificate; re-read when they change.
	CertFile, KeyFile string
	// Flags name the options in errors, e.g. "--host-agent-ca".
	CAFlag, CertFlag string
	OnReloadError    func(error)
}

// NewClient returns the client configuration, or nil when o names no file
// (the system roots and no client certificate: Go's default).
func NewClient(o ClientOptions) (*tls.Config, error) {
	if o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pool, err := readPool(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.CAFlag, err)
		}
		c.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, fmt.Errorf("%s and its key go together; give both", o.CertFlag)
	}
	if o.CertFile != "" {
		pair, err := loadKeyPair(o.CertFile, o.KeyFile, o.OnReloadError)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.CertFlag, err)
		}
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return pair.current(), nil
		}
	}
	return c, nil
}

// readPool reads a PEM file of CA certificates.
func readPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// ReloadOnHangup re-reads the files on every SIGHUP until ctx ends,
// logging the outcome; a failed reload keeps the certificate in use.
func (s *Server) ReloadOnHangup(ctx context.Context, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := s.Reload(); err != nil {
				log.Error("SIGHUP: re-reading the TLS files failed; serving the previous certificate", "err", err)
			} else {
				log.Info("SIGHUP: TLS files re-read")
			}
		}
	}
}
