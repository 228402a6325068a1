package fcstandin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// facts is firecracker-facts.json: Firecracker v1.16.1 as its sources say.
type facts struct {
	MetricsLine struct {
		Groups []struct {
			Key       string `json:"key"`
			Struct    string `json:"struct"`
			PerDevice bool   `json:"per_device"`
		} `json:"groups"`
		Structs map[string]struct {
			Fields []struct {
				Name string `json:"name"`
				Kind string `json:"kind"`
			} `json:"fields"`
		} `json:"structs"`
		FlushError struct {
			Text string `json:"text"`
		} `json:"flush_error"`
	} `json:"metrics_line"`
	Keys     map[string]keyed `json:"-"`
	VMConfig keyed            `json:"vm_config"`
	Machine  keyed            `json:"machine_config"`
	Drive    keyed            `json:"drive"`
	Net      keyed            `json:"network_interface"`
	Balloon  keyed            `json:"balloon"`
	Vsock    keyed            `json:"vsock"`
	Stats    keyed            `json:"balloon_statistics"`
	Errors   map[string]struct {
		Text string `json:"text"`
	} `json:"errors"`
	Version struct {
		Answer map[string]string `json:"answer"`
	} `json:"version"`
	Fatal struct {
		Signals []struct {
			Signal   string `json:"signal"`
			Field    string `json:"field"`
			ExitCode int    `json:"exit_code"`
		} `json:"signals"`
	} `json:"fatal_signals"`
	Muxer struct {
		FirstLocalPort struct {
			Value uint32 `json:"value"`
		} `json:"first_local_port"`
	} `json:"vsock_muxer"`
}

type keyed struct {
	Keys []string `json:"keys"`
}

func loadFacts(t *testing.T) facts {
	t.Helper()
	b, err := os.ReadFile("firecracker-facts.json")
	if err != nil {
		t.Fatal(err)
	}
	var f facts
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// keysOf returns the keys of the JSON object in data, in order, and each
// value's raw bytes.
func keysOf(t *testing.T, data []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %.80s", data)
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		vals[k.(string)] = raw
	}
	return keys, vals
}

// apiClient talks to a stand-in's API socket.
func apiClient(sock string) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
}

func call(t *testing.T, c *http.Client, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://localhost"+path, strings.NewReader(body))
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func faultOf(t *testing.T, body []byte) string {
	t.Helper()
	var f struct {
		FaultMessage string `json:"fault_message"`
	}
	if err := json.Unmarshal(body, &f); err != nil {
		t.Fatalf("not a fault: %s", body)
	}
	return f.FaultMessage
}

// launched is a stand-in configured and started through its API, as
// firecracker-go-sdk and most launchers do it.
func launched(t *testing.T, period time.Duration) (*VM, *http.Client, string, string) {
	t.Helper()
	dir := t.TempDir()
	sock, fifo := filepath.Join(dir, "api.sock"), filepath.Join(dir, "metrics.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	vm, err := Start(Config{ID: "vm-api"}, Options{APISock: sock, MetricsPeriod: period,
		Sources: Sources{Counters: func() Counters {
			return Counters{Net: map[string]NetCounters{"eth0": {RxBytes: 100}, "eth1": {TxBytes: 50}},
				Block: map[string]BlockCounters{"rootfs": {ReadBytes: 4096}, "data": {WriteBytes: 512}}}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Close)
	c := apiClient(sock)
	for _, r := range []struct{ path, body string }{
		{"/machine-config", `{"vcpu_count":2,"mem_size_mib":256}`},
		{"/boot-source", `{"kernel_image_path":"/vmlinux","boot_args":"console=ttyS0"}`},
		{"/drives/rootfs", `{"drive_id":"rootfs","path_on_host":"/rootfs.ext4","is_root_device":true,"is_read_only":false}`},
		{"/drives/data", `{"drive_id":"data","path_on_host":"/data.ext4","is_root_device":false}`},
		{"/network-interfaces/eth0", `{"iface_id":"eth0","host_dev_name":"tap0"}`},
		{"/network-interfaces/eth1", `{"iface_id":"eth1","host_dev_name":"tap1","guest_mac":"06:00:00:00:00:01"}`},
		{"/balloon", `{"amount_mib":0,"deflate_on_oom":true,"stats_polling_interval_s":1}`},
		{"/vsock", `{"guest_cid":3,"uds_path":"` + filepath.Join(dir, "v.sock") + `"}`},
		{"/metrics", `{"metrics_path":"` + fifo + `"}`},
	} {
		if code, body := call(t, c, "PUT", r.path, r.body); code != 204 {
			t.Fatalf("PUT %s: %d %s", r.path, code, body)
		}
	}
	return vm, c, fifo, dir
}

// TestAPIAsFirecracker: GET /vm/config, /machine-config and the balloon's
// calls answer with Firecracker's keys and fault messages, before boot and
// after, for a microVM launched through the API.
func TestAPIAsFirecracker(t *testing.T) {
	f := loadFacts(t)
	_, c, _, _ := launched(t, time.Hour)
	check := func(what string, data []byte, want []string) map[string]json.RawMessage {
		t.Helper()
		keys, vals := keysOf(t, data)
		if strings.Join(keys, ",") != strings.Join(want, ",") {
			t.Errorf("%s keys\n got %v\nwant %v", what, keys, want)
		}
		return vals
	}
	for _, when := range []string{"before boot", "after boot"} {
		code, body := call(t, c, "GET", "/vm/config", "")
		if code != 200 {
			t.Fatalf("%s: GET /vm/config %d %s", when, code, body)
		}
		vals := check("vm/config "+when, body, f.VMConfig.Keys)
		if string(vals["metrics"]) != "null" {
			t.Errorf("%s: metrics %s, want null (Firecracker never answers it)", when, vals["metrics"])
		}
		var drives, nets []json.RawMessage
		json.Unmarshal(vals["drives"], &drives)
		json.Unmarshal(vals["network-interfaces"], &nets)
		if len(drives) != 2 || len(nets) != 2 {
			t.Fatalf("drives %s, nets %s", vals["drives"], vals["network-interfaces"])
		}
		check("drive", drives[0], f.Drive.Keys)
		check("network interface", nets[1], f.Net.Keys)
		check("balloon", vals["balloon"], f.Balloon.Keys)
		check("vsock", vals["vsock"], f.Vsock.Keys)
		check("machine-config", vals["machine-config"], f.Machine.Keys)
		_, mc := call(t, c, "GET", "/machine-config", "")
		check("GET /machine-config", mc, f.Machine.Keys)
		if when == "before boot" {
			if code, body := call(t, c, "GET", "/balloon/statistics", ""); code != 400 || faultOf(t, body) != f.Errors["pre_boot"].Text {
				t.Errorf("statistics before boot: %d %s", code, body)
			}
			if code, body := call(t, c, "PUT", "/actions", `{"action_type":"FlushMetrics"}`); code != 400 || faultOf(t, body) != f.Errors["pre_boot"].Text {
				t.Errorf("FlushMetrics before boot: %d %s", code, body)
			}
			// MachineConfig::update's refusals, and nothing changed by them.
			for body, want := range map[string]string{
				`{"vcpu_count":0,"mem_size_mib":256}`:                   "invalid_vcpu_count",
				`{"vcpu_count":33,"mem_size_mib":256}`:                  "invalid_vcpu_count",
				`{"vcpu_count":3,"mem_size_mib":256,"smt":true}`:        "invalid_vcpu_count",
				`{"vcpu_count":2,"mem_size_mib":0}`:                     "invalid_mem_size",
				`{"vcpu_count":2,"mem_size_mib":257,"huge_pages":"2M"}`: "invalid_mem_size",
			} {
				if code, got := call(t, c, "PUT", "/machine-config", body); code != 400 || faultOf(t, got) != f.Errors[want].Text {
					t.Errorf("PUT /machine-config %s: %d %s, want %q", body, code, got, f.Errors[want].Text)
				}
			}
			if _, after := call(t, c, "GET", "/machine-config", ""); string(after) != string(mc) {
				t.Errorf("a refused machine-config changed it: %s, was %s", after, mc)
			}
			if code, body := call(t, c, "PUT", "/actions", `{"action_type":"InstanceStart"}`); code != 204 {
				t.Fatalf("InstanceStart: %d %s", code, body)
			}
		}
	}
	code, body := call(t, c, "GET", "/balloon/statistics", "")
	if code != 200 {
		t.Fatalf("statistics: %d %s", code, body)
	}
	keys, _ := keysOf(t, body)
	if strings.Join(keys, ",") != strings.Join(f.Stats.Keys[:4], ",") {
		t.Errorf("statistics before the driver reported: %v, want %v", keys, f.Stats.Keys[:4])
	}
	if code, body := call(t, c, "GET", "/version", ""); code != 200 || strings.TrimSpace(string(body)) != mustJSON(t, f.Version.Answer) {
		t.Errorf("GET /version: %d %s, want %v", code, body, f.Version.Answer)
	}
	if code, body := call(t, c, "GET", "/no/such/path", ""); code != 400 || faultOf(t, body) != strings.NewReplacer("{method}", "GET", "{path}", "/no/such/path").Replace(f.Errors["invalid_path"].Text) {
		t.Errorf("an unknown path: %d %s", code, body)
	}
	// A booted VM without a balloon, and one whose statistics are off.
	dir := t.TempDir()
	for _, tc := range []struct {
		b    *Balloon
		want string
	}{{nil, "no_balloon"}, {&Balloon{AmountMiB: 0}, "stats_disabled"}} {
		vm, err := Start(Config{ID: "b", Balloon: tc.b}, Options{APISock: filepath.Join(dir, tc.want+".sock"), Running: true})
		if err != nil {
			t.Fatal(err)
		}
		code, body := call(t, apiClient(filepath.Join(dir, tc.want+".sock")), "GET", "/balloon/statistics", "")
		if code != 400 || faultOf(t, body) != f.Errors[tc.want].Text {
			t.Errorf("%s: %d %s, want %q", tc.want, code, body, f.Errors[tc.want].Text)
		}
		vm.Close()
	}
}

// expectedKeys is the top-level keys of a line for the given devices.
func expectedKeys(f facts, devices map[string][]string) []string {
	var out []string
	for _, g := range f.MetricsLine.Groups {
		if g.PerDevice {
			prefix := strings.SplitN(g.Key, "<", 2)[0]
			for _, id := range devices[prefix] {
				out = append(out, prefix+id)
			}
			continue
		}
		out = append(out, g.Key)
	}
	return out
}

// TestMetricsLinesAsFirecracker: every line has Firecracker's groups in
// FirecrackerMetrics's order, each device's before its aggregate, every
// field in its struct's order, counters as the count since the previous
// line; a line comes at boot and every period by itself, and one per
// FlushMetrics.
func TestMetricsLinesAsFirecracker(t *testing.T) {
	f := loadFacts(t)
	_, c, fifo, _ := launched(t, 300*time.Millisecond)
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	call(t, c, "PUT", "/actions", `{"action_type":"InstanceStart"}`)
	lines := make(chan []byte, 64)
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			l, err := br.ReadBytes('\n')
			if len(l) > 0 && l[len(l)-1] == '\n' {
				lines <- l
			}
			if err != nil && err != io.EOF {
				return
			}
			if err == io.EOF {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	next := func(what string) []byte {
		t.Helper()
		select {
		case l := <-lines:
			return l
		case <-time.After(3 * time.Second):
			t.Fatalf("no line %s", what)
			return nil
		}
	}
	first := next("at boot")
	keys, vals := keysOf(t, first)
	want := expectedKeys(f, map[string][]string{"block_": {"data", "rootfs"}, "net_": {"eth0", "eth1"}})
	if strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Fatalf("line keys\n got %v\nwant %v", keys, want)
	}
	for _, g := range f.MetricsLine.Groups {
		if g.Struct == "" || g.PerDevice {
			continue
		}
		fields, _ := keysOf(t, vals[g.Key])
		var wantFields []string
		for _, fl := range f.MetricsLine.Structs[g.Struct].Fields {
			wantFields = append(wantFields, fl.Name)
		}
		if strings.Join(fields, ",") != strings.Join(wantFields, ",") {
			t.Errorf("%s fields\n got %v\nwant %v", g.Key, fields, wantFields)
		}
	}
	var blk map[string]any
	json.Unmarshal(vals["block"], &blk)
	if blk["read_bytes"] != float64(4096) || blk["write_bytes"] != float64(512) {
		t.Errorf("the block aggregate %v, want the drives' sums", vals["block"])
	}
	periodic := next("after the period")
	_, pv := keysOf(t, periodic)
	var net map[string]any
	json.Unmarshal(pv["net"], &net)
	if net["rx_bytes_count"] != float64(0) {
		t.Errorf("a second line counts %v, want the count since the first (0)", net["rx_bytes_count"])
	}
	if code, body := call(t, c, "PUT", "/actions", `{"action_type":"FlushMetrics"}`); code != 204 {
		t.Fatalf("FlushMetrics: %d %s", code, body)
	}
	next("after FlushMetrics")
}

// TestFullFIFO: with nobody reading, FlushMetrics fails at once with
// Firecracker's 400 and is not counted as missed; the periodic writer's
// failures are; the tail of a line cut short comes before the next one.
func TestFullFIFO(t *testing.T) {
	f := loadFacts(t)
	_, c, fifo, _ := launched(t, time.Hour)
	call(t, c, "PUT", "/actions", `{"action_type":"InstanceStart"}`)
	var code int
	var body []byte
	for i := 0; i < 100; i++ { // 64 KiB of pipe, lines of about 7 KB
		if code, body = call(t, c, "PUT", "/actions", `{"action_type":"FlushMetrics"}`); code != 204 {
			break
		}
	}
	if code != 400 || faultOf(t, body) != f.MetricsLine.FlushError.Text {
		t.Fatalf("FlushMetrics into a full FIFO: %d %s, want 400 %q", code, body, f.MetricsLine.FlushError.Text)
	}
	// Drain it: the lines read back are whole but the last, cut short.
	r, _ := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	defer r.Close()
	data := drain(t, r)
	if len(data) == 0 {
		t.Fatal("the full pipe held nothing")
	}
	if code, body := call(t, c, "PUT", "/actions", `{"action_type":"FlushMetrics"}`); code != 204 {
		t.Fatalf("FlushMetrics after a drain: %d %s", code, body)
	}
	time.Sleep(50 * time.Millisecond)
	after := drain(t, r)
	lines := strings.Split(strings.TrimSuffix(string(after), "\n"), "\n")
	// What the line buffer held when the write failed goes out first,
	// glued to the new line (the failed line's newline was never written).
	last := lines[len(lines)-1]
	at := strings.LastIndex(last, `{"utc_timestamp_ms":`)
	if at <= 0 {
		t.Errorf("the line after the drain does not start with what the buffer held: %.80s", last)
	}
	last = last[max(at, 0):]
	keys, vals := keysOf(t, []byte(last))
	if len(keys) == 0 || keys[0] != "utc_timestamp_ms" {
		t.Fatalf("the line after the drain: %.100s", last)
	}
	var logger map[string]any
	json.Unmarshal(vals["logger"], &logger)
	if logger["missed_metrics_count"] != float64(0) {
		t.Errorf("missed_metrics_count %v: FlushMetrics failures are not counted", logger["missed_metrics_count"])
	}
}

// TestRegularFileReused: a metrics path that is a regular file from an
// earlier run is written over from its start, its old tail left behind.
func TestRegularFileReused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.json")
	old := bytes.Repeat([]byte(`{"utc_timestamp_ms":1,"old":"run"}`+"\n"), 200)
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	vm, err := Start(Config{ID: "re", Metrics: &Metrics{MetricsPath: path}}, Options{APISock: filepath.Join(dir, "api.sock"), Running: true})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	time.Sleep(100 * time.Millisecond)
	data, _ := os.ReadFile(path)
	if len(data) != len(old) {
		t.Errorf("the file is %d bytes, want %d: written over, neither appended to nor truncated", len(data), len(old))
	}
	if !bytes.HasPrefix(data, []byte(`{"utc_timestamp_ms":`)) || bytes.HasPrefix(data, old[:40]) {
		t.Errorf("the file starts %.60s, want the new line", data)
	}
	if !bytes.HasSuffix(data, old[len(old)-100:]) {
		t.Error("the old run's tail is gone")
	}
}

// TestMuxerAsFirecracker: the muxer parses CONNECT as Firecracker's does
// and numbers its local ports from 1<<30.
func TestMuxerAsFirecracker(t *testing.T) {
	f := loadFacts(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(c, c)
		}
	}()
	dir := t.TempDir()
	uds := filepath.Join(dir, "v.sock")
	vm, err := Start(Config{ID: "mux", Vsock: &Vsock{GuestCID: 3, UDSPath: uds}},
		Options{APISock: filepath.Join(dir, "api.sock"), Running: true, Forward: map[uint32]string{52: ln.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	try := func(req string) string {
		c, err := net.Dial("unix", uds)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write([]byte(req))
		b := make([]byte, 64)
		n, _ := c.Read(b)
		return string(b[:n])
	}
	if got := try("CONNECT 52\n"); got != fmt.Sprintf("OK %d\n", f.Muxer.FirstLocalPort.Value) {
		t.Errorf("the first connection: %q, want OK %d", got, f.Muxer.FirstLocalPort.Value)
	}
	for req, ok := range map[string]bool{
		"connect 52\n": true, "CONNECT   52 and more\n": true, "Connect +52\n": true,
		"CONNECT 53\n": false, "CONNEC 52\n": false, "CONNECT x52\n": false, "CONNECT\t\xff52\n": false,
	} {
		got := try(req)
		if strings.HasPrefix(got, "OK ") != ok {
			t.Errorf("%q: %q, want accepted %v", req, got, ok)
		}
	}
}

// drain reads what a non-blocking FIFO holds now, without waiting for more.
func drain(t *testing.T, f *os.File) []byte {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n := 0
		rc.Read(func(fd uintptr) bool {
			n, _ = syscall.Read(int(fd), buf)
			return true
		})
		if n <= 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

// TestStoresAsFirecracker: a field Firecracker keeps as a StoreMetric
// (signals, panic_count, seccomp faults, startup times, an aggregate's
// min and max) carries its value on every line; a counter its count since
// the previous line.
func TestStoresAsFirecracker(t *testing.T) {
	f := loadFacts(t)
	agg := f.MetricsLine.Structs["LatencyAggregateMetrics"].Fields
	cur := Counters{Groups: map[string]map[string]uint64{}}
	want := map[string]map[string]uint64{}
	for _, g := range f.MetricsLine.Groups {
		if g.Struct == "" || g.PerDevice || g.Key == "block" || g.Key == "net" || g.Key == "pmem" {
			continue
		}
		set, w := map[string]uint64{}, map[string]uint64{}
		for _, fl := range f.MetricsLine.Structs[g.Struct].Fields {
			names, kinds := []string{fl.Name}, []string{fl.Kind}
			if fl.Kind == "aggregate" {
				names, kinds = nil, nil
				for _, a := range agg {
					names, kinds = append(names, fl.Name+"."+a.Name), append(kinds, a.Kind)
				}
			}
			for i, n := range names {
				set[n] = 5
				if kinds[i] == "store" {
					w[n] = 5
				} else {
					w[n] = 0
				}
			}
		}
		cur.Groups[g.Key], want[g.Key] = set, w
	}
	line, err := encodeLine(1, cur, cur, Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, vals := keysOf(t, line)
	for key, fields := range want {
		var got map[string]any
		if err := json.Unmarshal(vals[key], &got); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		for name, w := range fields {
			v := got[name]
			if sub, ok := strings.CutPrefix(name, strings.SplitN(name, ".", 2)[0]+"."); ok && strings.Contains(name, ".") {
				v = got[strings.SplitN(name, ".", 2)[0]].(map[string]any)[sub]
			}
			if v != float64(w) {
				t.Errorf("%s.%s = %v on a line after one of the same values, want %d", key, name, v, w)
			}
		}
	}
}

// TestFatalSignalsAsFirecracker: the signals Firecracker's handlers end it
// on, the field each records and the code it exits with are the facts';
// Fatal writes a last line carrying the field.
func TestFatalSignalsAsFirecracker(t *testing.T) {
	f := loadFacts(t)
	if len(f.Fatal.Signals) != len(fatalSignals) {
		t.Errorf("%d fatal signals, the facts have %d", len(fatalSignals), len(f.Fatal.Signals))
	}
	byName := map[string]syscall.Signal{"SIGXFSZ": syscall.SIGXFSZ, "SIGXCPU": syscall.SIGXCPU, "SIGBUS": syscall.SIGBUS,
		"SIGSEGV": syscall.SIGSEGV, "SIGSYS": syscall.SIGSYS, "SIGHUP": syscall.SIGHUP, "SIGILL": syscall.SIGILL}
	for _, fs := range f.Fatal.Signals {
		got, ok := fatalSignals[byName[fs.Signal]]
		if !ok || got.group+"."+got.field != fs.Field || got.code != fs.ExitCode {
			t.Errorf("%s: %+v, want %s and exit code %d", fs.Signal, got, fs.Field, fs.ExitCode)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.json")
	vm, err := Start(Config{ID: "f", Metrics: &Metrics{MetricsPath: path}}, Options{APISock: filepath.Join(dir, "api.sock"), Running: true})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if code, ok := vm.Fatal(syscall.SIGSYS); !ok || code != 148 {
		t.Fatalf("Fatal(SIGSYS) = %d, %v", code, ok)
	}
	// Fatal wrote its line before it returned (the boot line may come
	// before or after it, from the periodic writer).
	data, _ := os.ReadFile(path)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	_, vals := keysOf(t, lines[len(lines)-1])
	var seccomp map[string]any
	json.Unmarshal(vals["seccomp"], &seccomp)
	if seccomp["num_faults"] != float64(1) {
		t.Errorf("the last line's seccomp group %s, want num_faults 1", vals["seccomp"])
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
