package fcstandin

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMMDSAsFirecracker: the data store as v1.16.1 keeps it for the host
// (rpc_interface.rs GetMMDS/PutMMDS/PatchMMDS, data_store.rs put_data and
// patch_data, parsed_request.rs success_response_with_mmds_value).
func TestMMDSAsFirecracker(t *testing.T) {
	dir := t.TempDir()
	pre, err := Start(Config{ID: "pre"}, Options{APISock: filepath.Join(dir, "pre.sock")})
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	c := apiClient(filepath.Join(dir, "pre.sock"))
	if code, b := call(t, c, "GET", "/mmds", ""); code != 200 || strings.TrimSpace(string(b)) != "{}" {
		t.Errorf("GET /mmds before any data: %d %s, want 200 {}", code, b)
	}
	if code, b := call(t, c, "PATCH", "/mmds", `{"a":1}`); code != 400 || faultOf(t, b) != msgMMDSNotInitialized {
		t.Errorf("PATCH before PUT: %d %s", code, b)
	}
	if code, b := call(t, c, "PUT", "/mmds", `{"fcmon":{"labels":{"tenant":"acme"}},"keep":{"x":1,"y":2}}`); code != 204 {
		t.Errorf("PUT /mmds: %d %s", code, b)
	}
	if code, b := call(t, c, "PATCH", "/mmds", `{"keep":{"x":null,"z":3},"new":"v"}`); code != 204 {
		t.Errorf("PATCH /mmds: %d %s", code, b)
	}
	code, b := call(t, c, "GET", "/mmds", "")
	if want := `{"fcmon":{"labels":{"tenant":"acme"}},"keep":{"y":2,"z":3},"new":"v"}`; code != 200 || strings.TrimSpace(string(b)) != want {
		t.Errorf("GET /mmds after the merge patch: %d %s, want %s", code, b, want)
	}
	if code, b := call(t, c, "PUT", "/mmds", `{"big":"`+strings.Repeat("x", mmdsLimit)+`"}`); code != 413 && code != 400 {
		t.Errorf("PUT over the limit: %d %s", code, b)
	}
	// Within the payload limit each, over the store's together: 413.
	if code, b := call(t, c, "PUT", "/mmds", `{"a":"`+strings.Repeat("x", 30000)+`"}`); code != 204 {
		t.Errorf("PUT of 30 kB: %d %s", code, b)
	}
	if code, b := call(t, c, "PATCH", "/mmds", `{"b":"`+strings.Repeat("x", 30000)+`"}`); code != 413 || faultOf(t, b) != msgMMDSLimit {
		t.Errorf("PATCH over the data store's limit: %d %s", code, b)
	}
	// A VM booted without ever having had a data store.
	run, err := Start(Config{ID: "run"}, Options{APISock: filepath.Join(dir, "run.sock"), Running: true})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	rc := apiClient(filepath.Join(dir, "run.sock"))
	for _, m := range []string{"GET", "PUT", "PATCH"} {
		body := ""
		if m != "GET" {
			body = "{}"
		}
		if code, b := call(t, rc, m, "/mmds", body); code != 400 || faultOf(t, b) != msgMMDSNotInitialized {
			t.Errorf("%s /mmds after boot without MMDS: %d %s", m, code, b)
		}
	}
}
