package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// FuzzCreateVM: whatever the body, POST /v1/vms answers 201 with a VM whose
// fields pass validation, or a 4xx {"error"} and stores nothing; it never
// answers 500.
func FuzzCreateVM(f *testing.F) {
	for _, s := range []string{
		`{"name":"a"}`,
		`{"id":"` + goodID + `","name":"web","guest_ip":"10.0.0.2","guest_port":8080,"host_agent_url":"http://127.0.0.1:1","vmm_pid":1,"metrics_fifo":"/m","api_socket":"/s"}`,
		`{"name":"a","guest_ip":"169.254.169.254"}`,
		`{"name":"\u0000"}`, `{"name":"a"}{}`, `[]`, `null`, `{"name":"a","guest_port":1e400}`,
		`{"name":"a","name":"b"}`, `{"Name":"a"}`, `{"name":"\u202ea"}`, `{"name":"\u200b"}`,
		`{"name":"a","host_agent_url":"http://0x7f.1:9091"}`, `{"name":"a","host_agent_url":"http://rebound.example"}`,
	} {
		f.Add(s)
	}
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, body string) {
		before := e.count(t)
		w := e.do(t, request{method: "POST", path: "/v1/vms", body: body,
			header: map[string]string{"Content-Type": "application/json"}})
		switch {
		case w.Code == http.StatusCreated:
			var vm wire.VM
			decode(t, w, &vm)
			if _, ok := store.ParseUUID(vm.ID); !ok || checkName(vm.Name) != nil || checkPort(vm.GuestPort) != nil {
				t.Fatalf("stored an invalid VM %+v", vm)
			}
			if vm.GuestIP != "" {
				if _, err := e.api.checkGuestIP(vm.GuestIP); err != nil {
					t.Fatalf("stored guest_ip %q: %v", vm.GuestIP, err)
				}
			}
			if vm.HostAgentURL != "" {
				if _, err := e.api.checkHostAgentURL(context.Background(), vm.HostAgentURL); err != nil {
					t.Fatalf("stored host_agent_url %q: %v", vm.HostAgentURL, err)
				}
			}
			e.do(t, request{method: "DELETE", path: "/v1/vms/" + vm.ID})
		case w.Code >= 400 && w.Code < 500:
			if msg := errorOf(t, w); strings.TrimSpace(msg) == "" {
				t.Fatal("empty message")
			}
			if e.count(t) != before {
				t.Fatal("a refused registration stored a VM")
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}

// FuzzCreateHost: a body either adds a host agent whose URL passes the
// checks, or is refused with a 4xx and adds nothing.
func FuzzCreateHost(f *testing.F) {
	for _, s := range []string{`{"url":"http://10.0.0.5:9091"}`, `{"url":"https://fc-host-1.internal"}`, `{"url":"http://169.254.169.254"}`,
		`{"url":"http://rebound.example"}`, `{"url":""}`, `{}`, `[]`, `{"url":"http://10.0.0.5","url":"x"}`, `{"URL":"http://10.0.0.5"}`} {
		f.Add(s)
	}
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, body string) {
		hosts, _ := e.st.ListHosts(context.Background())
		w := e.do(t, request{method: "POST", path: "/v1/hosts", body: body})
		after, _ := e.st.ListHosts(context.Background())
		switch {
		case w.Code == http.StatusCreated:
			var h wire.Host
			decode(t, w, &h)
			if _, err := e.api.checkAgentURL(context.Background(), "url", h.URL); err != nil || len(after) != len(hosts)+1 {
				t.Fatalf("stored host %+v: %v", h, err)
			}
		case w.Code >= 400 && w.Code < 500:
			if len(after) != len(hosts) {
				t.Fatalf("a refused body (%d) changed the hosts", w.Code)
			}
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
	})
}

// FuzzQueries: whatever the query string of the cluster, fleet and event
// endpoints (FuzzVMPageQuery covers the VM list's), the answer is a 200 or
// a 4xx {"error"}, never a 5xx.
func FuzzQueries(f *testing.F) {
	for _, s := range []string{
		"/v1/cluster/latest?ids=" + goodID, "/v1/cluster/latest?ids=,", "/v1/cluster/latest?ids=a&ids=b",
		"/v1/fleet?x=1", "/v1/events?type=restore&since=1&limit=5", "/v1/events?since=-9223372036854775808",
	} {
		f.Add(s)
	}
	e, _ := fleetEnv(f)
	f.Fuzz(func(t *testing.T, target string) {
		path, raw, _ := strings.Cut(target, "?")
		switch path {
		case "/v1/cluster/latest", "/v1/fleet", "/v1/events":
		default:
			path = "/v1/cluster/latest"
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		u := path + "?" + q.Encode()
		w := e.do(t, request{method: "GET", path: u})
		switch {
		case w.Code == http.StatusOK:
		case w.Code >= 400 && w.Code < 500:
			if msg := errorOf(t, w); strings.TrimSpace(msg) == "" {
				t.Fatalf("%s: empty message", u)
			}
		default:
			t.Fatalf("%s: status %d: %s", u, w.Code, w.Body)
		}
	})
}
