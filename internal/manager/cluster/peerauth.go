package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Managers sharing a database sign what they ask each other for with the
// database's secret (store.PeerSecret): X-Fcmon-Peer is "<member id>.<hex
// HMAC-SHA256 of the id>". A peer's request is answered with that manager's
// part only and may ask for deeper pages, so an API client that sets the
// header itself must not pass for one: it gets a 403.

// loadSecret reads (or makes) the peers' secret; a manager alone with its
// database (SQLite) has no peers and no secret.
func (c *Cluster) loadSecret(ctx context.Context) {
	if c.solo {
		return
	}
	c.mu.RLock()
	have := c.secret != nil
	c.mu.RUnlock()
	if have {
		return
	}
	s, err := c.st.PeerSecret(ctx)
	if err != nil {
		c.log.Warn("reading the peers' secret failed; requests to and from other managers wait for it", "err", err)
		return
	}
	c.mu.Lock()
	c.secret = []byte(s)
	c.mu.Unlock()
}

// peerMAC signs a member id.
func peerMAC(secret []byte, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("fcmon-peer/" + id))
	return hex.EncodeToString(m.Sum(nil))
}

// peerHeader is this manager's X-Fcmon-Peer; "" before the secret is known.
func (c *Cluster) peerHeader() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.secret == nil {
		return ""
	}
	return c.self.ID + "." + peerMAC(c.secret, c.self.ID)
}

// VerifyPeer reports whether v is another member's X-Fcmon-Peer.
func (c *Cluster) VerifyPeer(v string) bool {
	id, mac, ok := strings.Cut(v, ".")
	c.mu.RLock()
	secret := c.secret
	c.mu.RUnlock()
	if !ok || secret == nil || id == "" || len(mac) != 64 {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(peerMAC(secret, id)))
}
