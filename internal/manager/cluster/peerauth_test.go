package cluster

import (
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/manager/store"
)

func TestPeerSignature(t *testing.T) {
	c := &Cluster{self: store.Member{ID: "aa11"}}
	if c.peerHeader() != "" || c.VerifyPeer("aa11."+peerMAC([]byte("x"), "aa11")) {
		t.Fatal("signed without a secret")
	}
	c.secret = []byte("0123456789abcdef0123456789abcdef")
	other := &Cluster{self: store.Member{ID: "bb22"}, secret: c.secret}
	if !c.VerifyPeer(other.peerHeader()) {
		t.Errorf("a member's header %q does not verify", other.peerHeader())
	}
	for _, bad := range []string{"", "bb22", "bb22.", "cc33." + strings.Split(other.peerHeader(), ".")[1], "bb22." + peerMAC([]byte("other secret"), "bb22")} {
		if c.VerifyPeer(bad) {
			t.Errorf("%q verifies", bad)
		}
	}
}
