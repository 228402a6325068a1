package api

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/access"
)

// wantRoles is every endpoint behind a credential and the role it needs.
// A new endpoint fails TestEveryEndpointHasItsRole until it is listed here.
var wantRoles = map[string]access.Role{
	"GET /metrics":                     access.Read,
	"GET /v1/vms":                      access.Read,
	"POST /v1/vms":                     access.Admin,
	"GET /v1/vms/{id}":                 access.Read,
	"DELETE /v1/vms/{id}":              access.Admin,
	"PATCH /v1/vms/{id}":               access.Admin,
	"POST /v1/vms/{id}/guest-ip":       access.Register,
	"GET /v1/vms/{id}/metrics":         access.Read,
	"GET /v1/vms/{id}/metrics/history": access.Read,
	"GET /v1/vms/{id}/metrics/ws":      access.Read,
	"GET /v1/metrics/ws":               access.Read,
	"GET /v1/cluster":                  access.Read,
	"GET /v1/cluster/latest":           access.Read,
	"GET /v1/prometheus/sd":            access.Read,
	"GET /v1/fleet":                    access.Read,
	"GET /v1/fleet/ws":                 access.Read,
	"GET /v1/events":                   access.Read,
	"GET /v1/usage":                    access.Read,
	"GET /v1/vms/{id}/events":          access.Read,
	"GET /v1/hosts":                    access.Read,
	"POST /v1/hosts":                   access.Admin,
	"GET /v1/hosts/{id}":               access.Read,
	"DELETE /v1/hosts/{id}":            access.Admin,
	"GET /v1/whoami":                   access.Anyone,
	"GET /v1/":                         access.Read,
	"POST /v1/":                        access.Read,
	"PUT /v1/":                         access.Read,
	"DELETE /v1/":                      access.Read,
	"PATCH /v1/":                       access.Read,
}

// rolesEnv is an API with a tokens file of one token per role and a
// registration secret.
func rolesEnv(t *testing.T) (*env, *access.Keys, []byte, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("# role name token\nadmin ops admin-token-0123456789\nread grafana read-token-0123456789\n"+
		"register launcher register-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := []byte("a registration secret of 32 bytes or more")
	keys, err := access.New(access.Options{TokensFile: file, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, func(o *Options) { o.Keys = keys }), keys, secret, file
}

// TestEveryEndpointHasItsRole: the routes and their roles are wantRoles,
// and each role is let through exactly where its role allows, streams
// included; a registration credential sets its own VM's address only.
func TestEveryEndpointHasItsRole(t *testing.T) {
	e, _, secret, _ := rolesEnv(t)
	got := map[string]access.Role{}
	for _, r := range e.api.Routes() {
		got[r.Method+" "+r.Pattern] = r.Role
	}
	for k, w := range wantRoles {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s: role %q (listed %v), want %q", k, g, ok, w)
		}
	}
	for k := range got {
		if _, ok := wantRoles[k]; !ok {
			t.Errorf("%s is a new endpoint: give it a role in wantRoles", k)
		}
	}
	admin := map[string]string{"Authorization": "Bearer admin-token-0123456789"}
	vm := func() wire.VM {
		w := e.do(t, request{method: "POST", path: "/v1/vms", body: `{"name":"a"}`, header: admin})
		var v wire.VM
		decode(t, w, &v)
		return v
	}()
	creds := map[access.Role]string{
		access.Admin: "admin-token-0123456789", access.Read: "read-token-0123456789",
		access.Register: "register-token-0123456789", access.Guest: access.RegistrationToken(secret, vm.ID),
	}
	path := func(pattern string) string {
		return strings.NewReplacer("{id}", vm.ID).Replace(pattern)
	}
	for key, need := range wantRoles {
		method, pattern, _ := strings.Cut(key, " ")
		if strings.HasPrefix(key, "POST /v1/vms") && pattern == "/v1/vms" || method == "DELETE" {
			// Writes that change what the rest of the table asks for run last.
			continue
		}
		for role, token := range creds {
			p := path(pattern)
			if pattern == "/v1/" {
				p = "/v1/nothing"
			}
			w := e.do(t, request{method: method, path: p, body: bodyFor(pattern), header: map[string]string{"Authorization": "Bearer " + token}})
			mayPass := role.Allows(need)
			switch {
			case mayPass && (w.Code == 401 || w.Code == 403):
				t.Errorf("%s with a %s credential: %d %s, want it let through", key, role, w.Code, w.Body)
			case !mayPass && w.Code != 403:
				t.Errorf("%s with a %s credential: %d, want 403", key, role, w.Code)
			case !mayPass && !strings.Contains(errorOf(t, w), "role") && !strings.Contains(errorOf(t, w), "registration credential"):
				t.Errorf("%s with a %s credential: %q names no role", key, role, errorOf(t, w))
			}
		}
		w := e.do(t, request{method: method, path: path(pattern), body: bodyFor(pattern)})
		if w.Code != 401 {
			t.Errorf("%s without a credential: %d, want 401", key, w.Code)
		}
	}
	// A registration credential for another VM, or on a stream's query.
	b := e.do(t, request{method: "POST", path: "/v1/vms", body: `{"name":"c"}`, header: admin})
	var c wire.VM
	decode(t, b, &c)
	w := e.do(t, request{method: "POST", path: "/v1/vms/" + c.ID + "/guest-ip", body: bodyFor("/v1/vms/{id}/guest-ip"),
		header: map[string]string{"Authorization": "Bearer " + creds[access.Guest]}})
	if w.Code != 403 || !strings.Contains(errorOf(t, w), "may not register VM "+c.ID) {
		t.Errorf("VM %s's credential for VM %s: %d %s", vm.ID, c.ID, w.Code, w.Body)
	}
	if w := e.do(t, request{method: "GET", path: "/v1/metrics/ws?token=" + creds[access.Guest]}); w.Code != 403 {
		t.Errorf("a registration credential on a stream: %d", w.Code)
	}
	if w := e.do(t, request{method: "GET", path: "/v1/metrics/ws?token=read-token-0123456789"}); w.Code != 200 {
		t.Errorf("a read token on a stream's query: %d", w.Code)
	}
	// The deletes: read may not, admin may.
	for _, who := range []string{"read-token-0123456789", "register-token-0123456789", creds[access.Guest]} {
		if w := e.do(t, request{method: "DELETE", path: "/v1/vms/" + c.ID, header: map[string]string{"Authorization": "Bearer " + who}}); w.Code != 403 {
			t.Errorf("DELETE with %.12s…: %d", who, w.Code)
		}
	}
	if w := e.do(t, request{method: "DELETE", path: "/v1/vms/" + c.ID, header: admin}); w.Code != 204 {
		t.Errorf("DELETE as admin: %d %s", w.Code, w.Body)
	}
}

func bodyFor(pattern string) string {
	switch pattern {
	case "/v1/vms/{id}/guest-ip":
		return `{"guest_ip":"127.0.0.5"}`
	case "/v1/hosts":
		return `{"url":"http://127.0.0.1:9"}`
	case "/v1/vms":
		return `{"name":"x"}`
	}
	return ""
}

// TestReloadKeepsStreams: rereading the tokens file keeps a stream of a
// token still in it, ends one of a removed token, and refuses the removed
// token at once.
func TestReloadKeepsStreams(t *testing.T) {
	_, keys, _, file := rolesEnv(t)
	stay, _ := keys.Lookup("read-token-0123456789")
	gone, _ := keys.Lookup("admin-token-0123456789")
	ctxStay, cancelStay := context.WithCancel(context.Background())
	ctxGone, cancelGone := context.WithCancel(context.Background())
	defer cancelStay()
	defer cancelGone()
	defer keys.Track(stay, cancelStay)()
	defer keys.Track(gone, cancelGone)()
	if err := os.WriteFile(file, []byte("read grafana read-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := keys.Reload(); err != nil || n != 1 {
		t.Fatalf("Reload: %d, %v", n, err)
	}
	select {
	case <-ctxGone.Done():
	case <-time.After(time.Second):
		t.Error("the removed token's stream goes on")
	}
	if ctxStay.Err() != nil {
		t.Error("a stream of a token still in the file was ended")
	}
	if _, ok := keys.Lookup("admin-token-0123456789"); ok {
		t.Error("the removed token still works")
	}
	// A file that others may read is refused, and the tokens stay.
	os.Chmod(file, 0o644)
	if _, err := keys.Reload(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a file readable by others: %v", err)
	}
	if _, ok := keys.Lookup("read-token-0123456789"); !ok {
		t.Error("a failed reload dropped the tokens")
	}
}
