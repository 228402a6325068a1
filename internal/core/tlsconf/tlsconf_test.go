package tlsconf

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/testcert"
)

// handshake serves one TLS connection with srv's config and dials it with
// client's; it returns the client's handshake error.
func handshake(t *testing.T, srv *tls.Config, client *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.(*tls.Conn).Handshake()
		c.Write([]byte("x"))
		c.Close()
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), client)
	if err != nil {
		return err
	}
	defer c.Close()
	// With TLS 1.3 a refused client certificate surfaces at the first read.
	buf := make([]byte, 1)
	_, err = c.Read(buf)
	return err
}

func TestServerAndClient(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "fcmon test CA")
	srvFiles := ca.IssueFiles(t, dir, "server", testcert.Leaf{Name: "host-agent", IPs: []string{"127.0.0.1"}})
	cliFiles := ca.IssueFiles(t, dir, "client", testcert.Leaf{Name: "manager", Client: true})
	other := testcert.NewCA(t, "another CA")
	wrongFiles := other.IssueFiles(t, dir, "wrong", testcert.Leaf{Name: "manager", Client: true})
	expired := ca.IssueFiles(t, dir, "expired", testcert.Leaf{Name: "old", IPs: []string{"127.0.0.1"}, NotAfter: time.Now().Add(-time.Hour)})

	srv, err := NewServer(ServerOptions{CertFile: srvFiles.Cert, KeyFile: srvFiles.Key, ClientCAFile: srvFiles.CA})
	if err != nil {
		t.Fatal(err)
	}
	good, err := NewClient(ClientOptions{CAFile: srvFiles.CA, CertFile: cliFiles.Cert, KeyFile: cliFiles.Key})
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, srv.Config(), good); err != nil {
		t.Fatalf("a client with the right CA and certificate: %v", err)
	}
	noCert, _ := NewClient(ClientOptions{CAFile: srvFiles.CA})
	if err := handshake(t, srv.Config(), noCert); err == nil {
		t.Error("a client without a certificate was accepted")
	}
	wrongCert, _ := NewClient(ClientOptions{CAFile: srvFiles.CA, CertFile: wrongFiles.Cert, KeyFile: wrongFiles.Key})
	if err := handshake(t, srv.Config(), wrongCert); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	wrongCA, _ := NewClient(ClientOptions{CAFile: wrongFiles.CA, CertFile: cliFiles.Cert, KeyFile: cliFiles.Key})
	var verr *tls.CertificateVerificationError
	if err := handshake(t, srv.Config(), wrongCA); !errors.As(err, &verr) || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("a server certificate of another CA: %v, want refused", err)
	}
	old, err := NewServer(ServerOptions{CertFile: expired.Cert, KeyFile: expired.Key})
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, old.Config(), good); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired server certificate: %v, want refused as expired", err)
	}
}

func TestServerReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "ca")
	f := ca.IssueFiles(t, dir, "server", testcert.Leaf{Name: "first", IPs: []string{"127.0.0.1"}})
	srv, err := NewServer(ServerOptions{CertFile: f.Cert, KeyFile: f.Key})
	if err != nil {
		t.Fatal(err)
	}
	name := func() string {
		cfg, _ := srv.Config().GetConfigForClient(nil)
		return cfg.Certificates[0].Leaf.Subject.CommonName
	}
	if got := name(); got != "first" {
		t.Fatalf("serving %q", got)
	}
	c, k := ca.Issue(t, testcert.Leaf{Name: "second", IPs: []string{"127.0.0.1"}})
	os.WriteFile(f.Cert, c, 0o600)
	os.WriteFile(f.Key, k, 0o600)
	srv.pair.mu.Lock()
	srv.pair.checkedAt = time.Time{} // as if a second had passed
	srv.pair.mu.Unlock()
	if got := name(); got != "second" {
		t.Errorf("after the files changed: serving %q, want second", got)
	}
	os.WriteFile(f.Cert, []byte("garbage"), 0o600)
	if err := srv.Reload(); err == nil {
		t.Error("Reload of a broken certificate succeeded")
	}
	if got := name(); got != "second" {
		t.Errorf("after a failed reload: serving %q, want the previous certificate", got)
	}
}

func TestOptionErrors(t *testing.T) {
	if _, err := NewServer(ServerOptions{CertFile: "x"}); err == nil {
		t.Error("a certificate without key was accepted")
	}
	if _, err := NewServer(ServerOptions{CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}); err == nil {
		t.Error("missing files were accepted")
	}
	if c, err := NewClient(ClientOptions{}); c != nil || err != nil {
		t.Errorf("no files: %v, %v; want Go's default", c, err)
	}
	if _, err := NewClient(ClientOptions{CertFile: "x", CertFlag: "--host-agent-cert"}); err == nil || !strings.Contains(err.Error(), "--host-agent-cert") {
		t.Errorf("a client certificate without key: %v", err)
	}
}
