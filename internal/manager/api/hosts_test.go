package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// TestHosts: add, list, read and remove host agents; a host agent's VMs
// stay, gone, and can be deleted only once gone.
func TestHosts(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do(t, request{method: "POST", path: "/v1/hosts", body: `{"url":"http://10.0.0.5:9091/"}`})
	var h wire.Host
	decode(t, w, &h)
	if w.Code != http.StatusCreated || h.URL != "http://10.0.0.5:9091" || h.Reachable || w.Header().Get("Location") != "/v1/hosts/"+h.ID {
		t.Fatalf("POST /v1/hosts: %d %+v", w.Code, h)
	}
	if w := e.do(t, request{method: "POST", path: "/v1/hosts", body: `{"url":"http://10.0.0.5:9091"}`}); w.Code != http.StatusConflict {
		t.Errorf("the same URL again: %d %s", w.Code, w.Body)
	}
	for body, want := range map[string]string{
		`{}`:                                  "url is missing",
		`{"url":"ftp://10.0.0.5"}`:            "url",
		`{"url":"http://169.254.169.254/"}`:   "metadata",
		`{"url":"http://8.8.8.8:9091"}`:       "allow",
		`{"url":"http://10.0.0.6","x":1}`:     "unknown field",
		`{"url":"http://u:p@10.0.0.6:9091"}`:  "url",
		`{"url":"http://rebound.example:91"}`: "169.254.169.254",
	} {
		w := e.do(t, request{method: "POST", path: "/v1/hosts", body: body})
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), want) {
			t.Errorf("POST %s: %d %s, want 400 naming %q", body, w.Code, w.Body, want)
		}
	}
	var list []wire.Host
	decode(t, e.do(t, request{method: "GET", path: "/v1/hosts"}), &list)
	if len(list) != 1 || list[0].ID != h.ID {
		t.Errorf("GET /v1/hosts: %+v", list)
	}
	if w := e.do(t, request{method: "GET", path: "/v1/hosts/not-a-uuid"}); w.Code != http.StatusBadRequest {
		t.Errorf("a malformed id: %d", w.Code)
	}
	if w := e.do(t, request{method: "GET", path: "/v1/hosts/" + goodID}); w.Code != http.StatusNotFound {
		t.Errorf("an unknown id: %d", w.Code)
	}

	// A VM of the host: not deletable while reported.
	ctx := context.Background()
	vm, err := e.st.CreateVM(ctx, store.VM{ID: goodID, Name: "fc-1", HostID: h.ID, HostVMID: "fc-1"})
	if err != nil {
		t.Fatal(err)
	}
	if w := e.do(t, request{method: "DELETE", path: "/v1/vms/" + vm.ID}); w.Code != http.StatusConflict || !strings.Contains(errorOf(t, w), h.ID) {
		t.Errorf("DELETE of a reported VM: %d %s", w.Code, w.Body)
	}
	var got wire.VM
	decode(t, e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID}), &got)
	if got.HostID != h.ID || got.HostVMID != "fc-1" || got.GoneMs != 0 || got.MemorySource != wire.SourceNone {
		t.Errorf("a host's VM: %+v", got)
	}
	if w := e.do(t, request{method: "DELETE", path: "/v1/hosts/" + h.ID}); w.Code != http.StatusNoContent {
		t.Fatalf("DELETE /v1/hosts: %d %s", w.Code, w.Body)
	}
	var after wire.VM
	decode(t, e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID}), &after)
	if after.HostID != "" || after.GoneMs != testNow.UnixMilli() {
		t.Errorf("the VM of a removed host: %+v", after)
	}
	if w := e.do(t, request{method: "DELETE", path: "/v1/vms/" + vm.ID}); w.Code != http.StatusNoContent {
		t.Errorf("DELETE of a gone VM: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, request{method: "DELETE", path: "/v1/hosts/" + h.ID}); w.Code != http.StatusNotFound {
		t.Errorf("DELETE of a removed host: %d", w.Code)
	}
}
