package guestvm

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// registration is one request the fake manager received.
type registration struct {
	method, path, contentType, auth string
	body                            []byte
}

// TestSelfRegistration boots a guest whose kernel command line names the manager and
// the VM id; the agent, started without registration flags, must register its address.
func TestSelfRegistration(t *testing.T) {
	t.Parallel()
	got := make(chan registration, 16)
	port := hostServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		select {
		case got <- newRegistration(r, body):
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"registered"}`))
	}))
	id := newUUID(t)
	bootAgent(t, vmtest.Config{KernelArgs: []string{
		fmt.Sprintf("guest_agent.register_url=http://%s:%d", vmtest.HostIP, port),
		"guest_agent.vm_id=" + id,
	}})

	var reg registration
	select {
	case reg = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent did not call the registration endpoint within 30 s of becoming healthy")
	}
	if reg.method != http.MethodPost || reg.path != "/v1/vms/"+id+"/guest-ip" {
		t.Errorf("registration request %s %s, want POST /v1/vms/%s/guest-ip", reg.method, reg.path, id)
	}
	if mt, _, err := mime.ParseMediaType(reg.contentType); err != nil || mt != "application/json" {
		t.Errorf("registration Content-Type = %q, want application/json", reg.contentType)
	}
	var body struct {
		GuestIP   *string `json:"guest_ip"`
		GuestPort *int    `json:"guest_port"`
	}
	if err := json.Unmarshal(reg.body, &body); err != nil {
		t.Fatalf("registration body %q is not JSON: %v", reg.body, err)
	}
	if body.GuestIP == nil || *body.GuestIP != vmtest.GuestIP {
		t.Errorf("registration body %s: guest_ip want %q", reg.body, vmtest.GuestIP)
	}
	if body.GuestPort == nil || *body.GuestPort != 8080 {
		t.Errorf("registration body %s: guest_port want 8080", reg.body)
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func newRegistration(r *http.Request, body []byte) registration {
	return registration{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
		auth: r.Header.Get("Authorization"), body: body}
}
