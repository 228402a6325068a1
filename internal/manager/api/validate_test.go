package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/wire"
)

const goodID = "3f2b8c1e-6a4d-4e2f-9b1a-0c5d7e8f9a10"

// TestCreateRejects: every invalid registration is refused with the status
// and a message naming what was wrong, and nothing is stored.
func TestCreateRejects(t *testing.T) {
	long := strings.Repeat("x", 129)
	tests := []struct {
		name, body string
		header     map[string]string
		status     int
		want       string // substring of the message
	}{
		{"malformed id", `{"id":"vm-1","name":"a"}`, nil, 400, `id "vm-1" is not a UUID`},
		{"uuid without dashes", `{"id":"3f2b8c1e6a4d4e2f9b1a0c5d7e8f9a10","name":"a"}`, nil, 400, "not a UUID"},
		{"uuid in braces", `{"id":"{3f2b8c1e-6a4d-4e2f-9b1a-0c5d7e8f9a10}","name":"a"}`, nil, 400, "not a UUID"},
		{"empty id", `{"id":"","name":"a"}`, nil, 400, "not a UUID"},
		{"id not a string", `{"id":5,"name":"a"}`, nil, 400, `field "id" must be a JSON string`},
		{"no name", `{}`, nil, 400, "name is empty"},
		{"blank name", `{"name":"  "}`, nil, 400, "name is empty"},
		{"long name", `{"name":"` + long + `"}`, nil, 400, "129 characters long; expected at most 128"},
		{"control char in name", `{"name":"a\u0007b"}`, nil, 400, "control character"},
		{"newline in name", `{"name":"a\nb"}`, nil, 400, "control character"},
		{"bidi override in name", `{"name":"vm-\u202etxt.exe"}`, nil, 400, "bidirectional control"},
		{"bidi isolate in name", `{"name":"a\u2066b"}`, nil, 400, "bidirectional control"},
		{"zero-width only name", `{"name":"\u200b\u200c\u200d"}`, nil, 400, "no visible character"},
		{"bom and spaces name", `{"name":" \ufeff "}`, nil, 400, "no visible character"},
		{"hangul filler name", `{"name":"\u3164"}`, nil, 400, "no visible character"},
		{"invalid utf-8", "{\"name\":\"a\xffb\"}", nil, 400, "not valid UTF-8"},
		{"duplicate key", `{"name":"a","name":"b"}`, nil, 400, `key "name" appears twice`},
		{"case-variant key", `{"Name":"a"}`, nil, 400, `did you mean "name"`},
		{"case-variant duplicate", `{"name":"a","NAME":"b"}`, nil, 400, "case-sensitive"},
		{"hostname guest_ip", `{"name":"a","guest_ip":"vm1.example.com"}`, nil, 400, "not an IPv4 or IPv6 address"},
		{"bad ipv4", `{"name":"a","guest_ip":"300.1.1.1"}`, nil, 400, `guest_ip "300.1.1.1" is not an IPv4 or IPv6 address`},
		{"ip with port", `{"name":"a","guest_ip":"10.0.0.1:8080"}`, nil, 400, "not an IPv4 or IPv6 address"},
		{"zone", `{"name":"a","guest_ip":"fd00::1%eth0"}`, nil, 400, "zone"},
		{"metadata address", `{"name":"a","guest_ip":"169.254.169.254"}`, nil, 400, "169.254.169.254"},
		{"ipv6 link-local", `{"name":"a","guest_ip":"fe80::1"}`, nil, 400, "link-local"},
		{"public address", `{"name":"a","guest_ip":"8.8.8.8"}`, nil, 400, "outside the allowed networks"},
		{"loopback not listed", `{"name":"a","guest_ip":"127.0.0.1"}`, nil, 400, "--guest-allow-cidrs"},
		{"mapped public", `{"name":"a","guest_ip":"::ffff:8.8.8.8"}`, nil, 400, "guest_ip 8.8.8.8 is outside"},
		{"multicast", `{"name":"a","guest_ip":"224.0.0.1"}`, nil, 400, "multicast"},
		{"port 0", `{"name":"a","guest_port":0}`, nil, 400, "guest_port 0 is out of range; expected 1 to 65535"},
		{"port too big", `{"name":"a","guest_port":65536}`, nil, 400, "guest_port 65536"},
		{"port negative", `{"name":"a","guest_port":-1}`, nil, 400, "guest_port -1"},
		{"port fraction", `{"name":"a","guest_port":80.5}`, nil, 400, `field "guest_port" must be a JSON number`},
		{"host agent ftp", `{"name":"a","host_agent_url":"ftp://h:9091"}`, nil, 400, "not an http:// or https:// URL"},
		{"host agent no host", `{"name":"a","host_agent_url":"http://"}`, nil, 400, "has no host"},
		{"host agent relative", `{"name":"a","host_agent_url":"10.0.0.1:9091"}`, nil, 400, "host_agent_url"},
		{"host agent userinfo", `{"name":"a","host_agent_url":"http://u:p@h:9091"}`, nil, 400, "user information"},
		{"host agent query", `{"name":"a","host_agent_url":"http://h:9091/?x=1"}`, nil, 400, "query or fragment"},
		{"negative pid", `{"name":"a","vmm_pid":-5}`, nil, 400, "vmm_pid -5 is out of range"},
		{"huge pid", `{"name":"a","vmm_pid":99999999}`, nil, 400, "vmm_pid 99999999"},
		{"relative fifo", `{"name":"a","metrics_fifo":"run/m.fifo"}`, nil, 400, `metrics_fifo "run/m.fifo" is not an absolute path`},
		{"relative socket", `{"name":"a","api_socket":"fc.sock"}`, nil, 400, "api_socket"},
		{"long socket", `{"name":"a","api_socket":"/` + strings.Repeat("s", 120) + `"}`, nil, 400, "expected at most 107"},
		{"unknown field", `{"name":"a","guest_ipp":"10.0.0.1"}`, nil, 400, `unknown field "guest_ipp"`},
		{"trailing data", `{"name":"a"} {"name":"b"}`, nil, 400, "data after the JSON object"},
		{"trailing garbage", `{"name":"a"}x`, nil, 400, "data after the JSON object"},
		{"not an object", `["a"]`, nil, 400, "must be a JSON object"},
		{"syntax error", `{"name":}`, nil, 400, "not valid JSON"},
		{"truncated", `{"name":"a"`, nil, 400, "truncated"},
		{"empty body", ``, map[string]string{"Content-Type": "application/json"}, 400, "empty"},
		{"too large", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, nil, 413, "larger than 65536 bytes"},
		{"wrong content type", `{"name":"a"}`, map[string]string{"Content-Type": "text/plain"}, 415, "not application/json"},
		{"form content type", `name=a`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "not application/json"},
		{"no content type", `{"name":"a"}`, map[string]string{"Content-Type": ""}, 415, "Content-Type application/json is required"},
	}
	e := newEnv(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, request{method: "POST", path: "/v1/vms", body: tt.body, header: tt.header})
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if msg := errorOf(t, w); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if n := e.count(t); n != 0 {
				t.Errorf("%d VMs stored after a refused registration", n)
			}
		})
	}
}

// TestGuestIPRejects: POST /v1/vms/{id}/guest-ip refuses bad addresses,
// ids and bodies, and leaves the stored VM unchanged.
func TestGuestIPRejects(t *testing.T) {
	e := newEnv(t, nil)
	vm := e.create(t, `{"id":"`+goodID+`","name":"a","guest_ip":"10.0.0.5","guest_port":9000}`)
	path := "/v1/vms/" + vm.ID + "/guest-ip"
	tests := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"missing ip", path, `{}`, 400, "guest_ip is missing"},
		{"hostname", path, `{"guest_ip":"localhost"}`, 400, "host names are not accepted"},
		{"metadata", path, `{"guest_ip":"169.254.169.254"}`, 400, "169.254.169.254 is the instance metadata service"},
		{"outside", path, `{"guest_ip":"1.2.3.4"}`, 400, "outside the allowed networks (10.0.0.0/8, "},
		{"zone", path, `{"guest_ip":"fd00::1%1"}`, 400, "zone"},
		{"unspecified", path, `{"guest_ip":"0.0.0.0"}`, 400, "unspecified"},
		{"bad port", path, `{"guest_ip":"10.0.0.6","guest_port":70000}`, 400, "guest_port 70000"},
		{"unknown field", path, `{"guest_ip":"10.0.0.6","port":1}`, 400, `unknown field "port"`},
		{"malformed id", "/v1/vms/not-a-uuid/guest-ip", `{"guest_ip":"10.0.0.6"}`, 400, `VM id "not-a-uuid" is not a UUID`},
		{"unknown vm", "/v1/vms/00000000-0000-4000-8000-000000000000/guest-ip", `{"guest_ip":"10.0.0.6"}`, 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, request{method: "POST", path: tt.path, body: tt.body})
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if msg := errorOf(t, w); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
		})
	}
	w := e.do(t, request{method: "GET", path: "/v1/vms/" + vm.ID})
	var got wire.VM
	decode(t, w, &got)
	if got.GuestIP != "10.0.0.5" || got.GuestPort != 9000 {
		t.Errorf("stored address changed to %s:%d", got.GuestIP, got.GuestPort)
	}
}

// TestPathAndMethodErrors: malformed and unknown ids, unknown paths and
// wrong methods.
func TestPathAndMethodErrors(t *testing.T) {
	e := newEnv(t, nil)
	unknown := "/v1/vms/00000000-0000-4000-8000-000000000000"
	tests := []struct {
		method, path string
		status       int
		want, allow  string
	}{
		{"GET", "/v1/vms/xyz", 400, `VM id "xyz" is not a UUID`, ""},
		{"DELETE", "/v1/vms/xyz", 400, "not a UUID", ""},
		{"GET", "/v1/vms/xyz/metrics", 400, "not a UUID", ""},
		{"GET", "/v1/vms/xyz/metrics/history", 400, "not a UUID", ""},
		{"GET", "/v1/vms/xyz/metrics/ws", 400, "not a UUID", ""},
		{"GET", unknown, 404, "not found", ""},
		{"DELETE", unknown, 404, "not found", ""},
		{"GET", unknown + "/metrics", 404, "not found", ""},
		{"GET", unknown + "/metrics/history", 404, "not found", ""},
		{"GET", unknown + "/metrics/ws", 404, "not found", ""},
		{"GET", "/v1/nothing", 404, "no endpoint /v1/nothing", ""},
		{"GET", "/nothing", 404, "no endpoint", ""},
		{"PUT", "/v1/vms", 405, "method PUT is not allowed", "GET, HEAD, POST"},
		{"PUT", unknown, 405, "not allowed", "DELETE, GET, HEAD, PATCH"},
		{"GET", unknown + "/guest-ip", 405, "not allowed", "POST"},
		{"POST", "/healthz", 405, "not allowed", "GET, HEAD"},
		{"POST", "/metrics", 405, "not allowed", "GET, HEAD"},
		{"DELETE", "/v1/metrics/ws", 405, "not allowed", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := e.do(t, request{method: tt.method, path: tt.path})
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if msg := errorOf(t, w); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestHistoryParams: the range parameters must be integers given at most
// once, times of this era in order; the history's own refusal is passed on
// as a 400.
func TestHistoryParams(t *testing.T) {
	e := newEnv(t, nil)
	vm := e.create(t, `{"name":"a"}`)
	base := "/v1/vms/" + vm.ID + "/metrics/history"
	now := testNow.UnixMilli()
	for q, want := range map[string]string{
		"?since=abc":                 "not a number of milliseconds",
		"?until=-1":                  "not a number of milliseconds",
		"?step=1.5":                  "not a number of milliseconds",
		"?since=1&since=2":           "given 2 times",
		"?until=1e9":                 "not a number of milliseconds",
		"?until=9223372036854775807": "between 2000-01-01 and 9999-12-31",
		"?until=1":                   "between 2000-01-01 and 9999-12-31",
		"?since=1767225000":          "between 2000-01-01 and 9999-12-31", // seconds, not ms
		"?until=946684800001":        "leaves no room",
		"?step=9223372036854775807":  "longer than any range",
		fmt.Sprintf("?since=%d&until=%d", now, now-1): "is after until",
	} {
		w := e.do(t, request{method: "GET", path: base + q})
		if w.Code != http.StatusBadRequest || !strings.Contains(errorOf(t, w), want) {
			t.Errorf("%s: %d %s, want 400 saying %q", q, w.Code, w.Body, want)
		}
	}
	if len(e.hist.calls) != 0 {
		t.Errorf("history queried for refused parameters: %v", e.hist.calls)
	}
	e.hist.err = httpapi.BadRequest("range too long")
	w := e.do(t, request{method: "GET", path: base + fmt.Sprintf("?since=%d&until=%d", now-3600000, now)})
	if w.Code != http.StatusBadRequest || errorOf(t, w) != "range too long" {
		t.Errorf("history's refusal: %d %s", w.Code, w.Body)
	}
}
