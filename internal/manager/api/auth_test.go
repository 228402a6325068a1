package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// TestAuth: with a token, /v1 and /metrics need it (constant-time bearer
// check), WebSocket endpoints also take it as ?token= or a bearer.<token>
// subprotocol that the stream never sees; / and /healthz stay open.
func TestAuth(t *testing.T) {
	const token = "s3cret-token"
	e := newEnv(t, func(o *Options) { o.Token = token })
	vm := func() string {
		w := e.do(t, request{method: "POST", path: "/v1/vms", body: `{"name":"a"}`,
			header: map[string]string{"Authorization": "Bearer " + token}})
		var v wire.VM
		decode(t, w, &v)
		return v.ID
	}()
	ws := "/v1/vms/" + vm + "/metrics/ws"
	tests := []struct {
		name, method, path, auth, proto string
		status                          int
		body                            string // prefix of a 200 body
	}{
		{"list without token", "GET", "/v1/vms", "", "", 401, ""},
		{"list wrong token", "GET", "/v1/vms", "Bearer nope", "", 401, ""},
		{"list token prefix", "GET", "/v1/vms", "Bearer s3cret", "", 401, ""},
		{"list basic scheme", "GET", "/v1/vms", "Basic " + token, "", 401, ""},
		{"list with token", "GET", "/v1/vms", "Bearer " + token, "", 200, "["},
		{"scheme case", "GET", "/v1/vms", "bearer " + token, "", 200, "["},
		{"create without token", "POST", "/v1/vms", "", "", 401, ""},
		{"unknown path without token", "GET", "/v1/x", "", "", 401, ""},
		{"metrics without token", "GET", "/metrics", "", "", 401, ""},
		{"metrics with token", "GET", "/metrics", "Bearer " + token, "", 200, "# prometheus"},
		{"query token not for REST", "GET", "/v1/vms?token=" + token, "", "", 401, ""},
		{"healthz open", "GET", "/healthz", "", "", 200, "OK"},
		{"index open", "GET", "/", "", "", 200, "<!doctype html>"},
		{"ui assets open", "GET", "/ui/app.css", "", "", 200, "/* fcmon"},
		{"ui missing asset", "GET", "/ui/nothing.js", "", "", 404, "no UI file"},
		{"ws without token", "GET", ws, "", "", 401, ""},
		{"ws wrong query token", "GET", ws + "?token=x", "", "", 401, ""},
		{"ws header token", "GET", ws, "Bearer " + token, "", 200, "vm " + vm + " query= proto="},
		{"ws query token", "GET", ws + "?token=" + token + "&x=1", "", "", 200, "vm " + vm + " query=x=1 proto="},
		{"ws subprotocol token", "GET", ws, "", "fcmon, bearer." + token, 200, "vm " + vm + " query= proto=fcmon"},
		{"ws wrong subprotocol", "GET", ws, "", "bearer.x", 401, ""},
		{"all ws query token", "GET", "/v1/metrics/ws?token=" + token, "", "", 200, "all query= proto="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Authorization": tt.auth, "Sec-WebSocket-Protocol": tt.proto}
			body := ""
			if tt.method == "POST" {
				body = `{"name":"b"}`
			}
			w := e.do(t, request{method: tt.method, path: tt.path, header: h, body: body})
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if tt.status == http.StatusUnauthorized {
				if !strings.Contains(errorOf(t, w), "bearer token") || w.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("401 without message or WWW-Authenticate: %q %q", w.Body, w.Header())
				}
				return
			}
			if !strings.HasPrefix(w.Body.String(), tt.body) {
				t.Errorf("body %q, want prefix %q", w.Body, tt.body)
			}
			if strings.Contains(w.Body.String(), token) {
				t.Errorf("the token reached the handler: %q", w.Body)
			}
		})
	}
	if n := e.count(t); n != 1 {
		t.Errorf("%d VMs stored; unauthorized creates must store nothing", n)
	}
}
