// Package fcmonctl tests bin/fcmonctl against a real manager: two guest
// agents over animated /proc trees registered with labels, one host agent,
// a token; every command in tables and JSON, its errors, events
// --follow, and top in a real terminal (tmux).
package fcmonctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/poll"
	"github.com/fcmon/fcmon/internal/testsupport/procfixture"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

var guestBin, hostBin, managerBin, ctlBin string

func TestMain(m *testing.M) {
	os.Exit(testbuild.Main(m, "fcmonctl tests", []string{"guest-agent", "host-agent", "manager", "fcmonctl"},
		&guestBin, &hostBin, &managerBin, &ctlBin))
}

const token = "ctl-test-token-0123456789"

// fleet is a running manager with two registered guests and a host agent.
type fleet struct {
	url, tokenFile string
	guests         map[string]*testprog.Proc // by VM name
	ids            map[string]string         // VM name → id
	host           *testprog.Proc
}

// theFleet starts the fleet for a test: a manager on SQLite with a token,
// two guests registered with labels, a host agent; it waits until both
// VMs are live.
func theFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{guests: map[string]*testprog.Proc{}, ids: map[string]string{}}
	dir := t.TempDir()
	f.tokenFile = filepath.Join(dir, "token")
	if err := os.WriteFile(f.tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := "DATABASE_URL=sqlite:" + filepath.Join(dir, "fcmon.db")
	m := testprog.Start(t, managerBin, t.TempDir(), []string{db}, testprog.ManagerServing, "--listen", "127.0.0.1:0",
		"--poll-interval", "250ms", "--guest-allow-cidrs", "127.0.0.0/8", "--host-agent-allow-cidrs", "127.0.0.0/8",
		"--api-token-file", f.tokenFile)
	f.url = "http://" + m.Addr
	for name, team := range map[string]string{"web-1": "blue", "db-1": "red"} {
		root := procfixture.Copy(t)
		procfixture.Animate(t, root)
		g := testprog.Start(t, guestBin, root, nil, testprog.GuestServing, "--listen", "127.0.0.1:0",
			"--procfs", filepath.Join(root, "proc"), "--sysfs", filepath.Join(root, "sys"), "--interval", "250ms")
		f.guests[name] = g
		ip, port := testprog.SplitAddr(t, g.Addr)
		var vm wire.VM
		f.post(t, "/v1/vms", map[string]any{"name": name, "guest_ip": ip, "guest_port": port, "labels": map[string]string{"team": team}}, &vm)
		f.ids[name] = vm.ID
	}
	f.host = testprog.Start(t, hostBin, t.TempDir(), nil, testprog.HostServing, "--listen", "127.0.0.1:0",
		"--interval", "250ms", "--discover=false")
	f.post(t, "/v1/hosts", map[string]any{"url": "http://" + f.host.Addr}, nil)
	poll.Until(t, 20*time.Second, "both VMs live with a CPU figure", func() bool {
		var page wire.VMPage
		out, _, code := f.ctl(t, nil, "vms", "--output", "json")
		if code != 0 || json.Unmarshal([]byte(out), &page) != nil {
			return false
		}
		live := 0
		for _, r := range page.VMs {
			if r.State == wire.StateLive && r.Latest != nil && r.Latest.CPUUsagePercent != nil {
				live++
			}
		}
		return live == 2
	})
	return f
}

func (f *fleet) post(t *testing.T, path string, body, into any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", f.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %s: %s", path, res.Status, raw)
	}
	if into != nil {
		if err := json.Unmarshal(raw, into); err != nil {
			t.Fatal(err)
		}
	}
}

// ctl runs fcmonctl with the fleet's manager and token in its environment
// (env adds to or overrides it) and returns stdout, stderr, exit status.
func (f *fleet) ctl(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctlBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "FCMON_MANAGER=" + f.url, "FCMON_TOKEN_FILE=" + f.tokenFile}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("fcmonctl %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// ok runs fcmonctl and fails the test unless it exits 0.
func (f *fleet) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := f.ctl(t, nil, args...)
	if code != 0 {
		t.Fatalf("fcmonctl %v: exit %d: %s", args, code, errOut)
	}
	return out
}

// fails runs fcmonctl and fails the test unless it exits with code and
// says want on stderr, printing nothing on stdout.
func (f *fleet) fails(t *testing.T, env []string, code int, want string, args ...string) {
	t.Helper()
	out, errOut, got := f.ctl(t, env, args...)
	if got != code || !strings.Contains(errOut, want) || out != "" {
		t.Errorf("fcmonctl %v: exit %d, stderr %q, stdout %q; want exit %d saying %q", args, got, errOut, out, code, want)
	}
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

func TestFcmonctl(t *testing.T) {
	f := theFleet(t)

	t.Run("vms", func(t *testing.T) {
		out := f.ok(t, "vms")
		ls := lines(out)
		if len(ls) != 3 || !strings.HasPrefix(ls[0], "NAME") || !strings.HasPrefix(ls[1], "db-1 ") || !strings.HasPrefix(ls[2], "web-1 ") {
			t.Fatalf("vms, sorted by name:\n%s", out)
		}
		for _, want := range []string{f.ids["web-1"], "live", "team=blue", "guest", "%"} {
			if !strings.Contains(ls[2], want) {
				t.Errorf("web-1's line %q lacks %q", ls[2], want)
			}
		}
		if out := f.ok(t, "vms", "--label", "team=blue"); len(lines(out)) != 2 || !strings.Contains(out, "web-1") {
			t.Errorf("vms --label team=blue:\n%s", out)
		}
		var page wire.VMPage
		if err := json.Unmarshal([]byte(f.ok(t, "vms", "--sort", "cpu", "--output", "json")), &page); err != nil || page.Total != 2 || len(page.VMs) != 2 {
			t.Errorf("vms --output json: %v, %+v", err, page)
		}
		f.fails(t, nil, 1, `sort "bogus" is not a column`, "vms", "--sort", "bogus")
		f.fails(t, nil, 2, "takes no arguments", "vms", "extra")
	})

	t.Run("vm", func(t *testing.T) {
		out := f.ok(t, "vm", "web-1") // by name
		for _, want := range []string{"Name:", "web-1", f.ids["web-1"], "team=blue", "Source:", "guest", "CPU:", "%", "Memory:", "MiB", "Guest agent:", "reachable", "Events:"} {
			if !strings.Contains(out, want) {
				t.Errorf("vm web-1 lacks %q:\n%s", want, out)
			}
		}
		var doc struct {
			VM     wire.VM             `json:"vm"`
			Latest wire.CombinedSample `json:"latest"`
			Events []wire.Event        `json:"events"`
		}
		raw := f.ok(t, "vm", f.ids["db-1"], "--output", "json") // a flag after the argument
		if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc.VM.Name != "db-1" || doc.Latest.VMID != f.ids["db-1"] || doc.Events == nil {
			t.Errorf("vm --output json: %v\n%s", err, raw)
		}
		f.fails(t, nil, 1, `no VM is named "nope"`, "vm", "nope")
		f.fails(t, nil, 1, "404", "vm", "00000000-0000-4000-8000-000000000000")
		f.fails(t, nil, 2, "vm takes ID|NAME", "vm")
	})

	t.Run("hosts", func(t *testing.T) {
		out := f.ok(t, "hosts")
		ls := lines(out)
		if len(ls) != 2 || !strings.Contains(ls[1], "http://"+f.host.Addr) {
			t.Fatalf("hosts:\n%s", out)
		}
		poll.Until(t, 10*time.Second, "the host agent answering", func() bool {
			return strings.Contains(f.ok(t, "hosts"), " answering ")
		})
		var hosts []wire.Host
		if err := json.Unmarshal([]byte(f.ok(t, "hosts", "--output", "json")), &hosts); err != nil || len(hosts) != 1 || !hosts[0].Reachable {
			t.Errorf("hosts --output json: %v %+v", err, hosts)
		}
	})

	t.Run("usage", func(t *testing.T) {
		since, until := time.Now().Add(-time.Hour).UTC().Truncate(time.Second), time.Now().UTC().Truncate(time.Second)
		args := []string{"usage", "--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339)}
		var ans struct {
			SinceMs int64  `json:"since_ms"`
			UntilMs int64  `json:"until_ms"`
			GroupBy string `json:"group_by"`
		}
		if err := json.Unmarshal([]byte(f.ok(t, append(args, "--output", "json")...)), &ans); err != nil ||
			ans.SinceMs != since.Truncate(time.Minute).UnixMilli() || ans.UntilMs != until.Truncate(time.Minute).UnixMilli() || ans.GroupBy != "vm" {
			t.Errorf("usage --output json: %v %+v (asked %d to %d: whole minutes of it)", err, ans, since.UnixMilli(), until.UnixMilli())
		}
		out := f.ok(t, append(args, "--group-by", "label:team")...)
		if ls := lines(out); len(ls) < 2 || !strings.HasPrefix(ls[0], "Usage from ") || !strings.HasPrefix(ls[1], "TEAM") {
			t.Errorf("usage --group-by label:team:\n%s", out)
		}
		f.fails(t, nil, 2, "neither a duration", "usage", "--since", "yesterday")
		f.fails(t, nil, 1, "group_by", "usage", "--group-by", "colour")
	})

	t.Run("credentials", func(t *testing.T) {
		f.fails(t, []string{"FCMON_TOKEN_FILE="}, 1, "401", "vms")
		f.fails(t, []string{"FCMON_TOKEN_FILE=", "FCMON_TOKEN=wrong-token-000000"}, 1, "401", "vms")
		if out, errOut, code := f.ctl(t, []string{"FCMON_TOKEN_FILE=", "FCMON_TOKEN=" + token}, "vms"); code != 0 || !strings.Contains(out, "web-1") {
			t.Errorf("FCMON_TOKEN: exit %d %s", code, errOut)
		}
		f.fails(t, nil, 2, "--token-file", "--token-file", "/nonexistent/token", "vms")
		f.fails(t, []string{"FCMON_MANAGER=ftp://x"}, 2, "is not an http:// or https:// URL", "vms")
		f.fails(t, nil, 2, "need an https:// --manager", "--ca-file", "/etc/ssl/certs/ca-certificates.crt", "vms")
		// A manager that does not answer: a closed port on loopback.
		f.fails(t, []string{"FCMON_MANAGER=http://127.0.0.1:1"}, 1, "does not answer", "vms")
		f.fails(t, nil, 2, `unknown command "nope"`, "nope")
		f.fails(t, nil, 2, "--output \"yaml\" is not table or json", "--output", "yaml", "vms")
	})

	t.Run("events --follow", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, ctlBin, "events", "--follow", "--output", "json", "--vm", "db-1")
		cmd.Env = []string{"FCMON_MANAGER=" + f.url, "FCMON_TOKEN_FILE=" + f.tokenFile}
		var stdout syncBuffer
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		f.guests["db-1"].Stop() // its source goes from guest to none: a source_change event
		poll.Until(t, 30*time.Second, "db-1's source_change in events --follow", func() bool {
			for _, l := range lines(stdout.String()) {
				var e wire.Event
				if json.Unmarshal([]byte(l), &e) == nil && e.Type == wire.EventSourceChange && e.VMID == f.ids["db-1"] {
					return true
				}
			}
			return false
		})
		cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Errorf("events --follow after Ctrl-C: %v: %s", err, stderr.String())
		}
		seen := map[int64]bool{}
		for _, l := range lines(stdout.String()) {
			var e wire.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Errorf("a line that is not an event: %q", l)
			}
			if seen[e.ID] {
				t.Errorf("event %d shown twice", e.ID)
			}
			seen[e.ID] = true
		}
		if out := f.ok(t, "events", "--type", "source_change"); !strings.Contains(out, "source_change") || !strings.Contains(out, f.ids["db-1"][:8]) {
			t.Errorf("events --type source_change:\n%s", out)
		}
	})

	t.Run("top", func(t *testing.T) {
		out := f.ok(t, "top", "--once")
		for _, want := range []string{"fcmon top", "2 VMs", "CPU", "MEMORY", "web-1"} {
			if !strings.Contains(out, want) {
				t.Errorf("top --once lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "\x1b[") {
			t.Error("top --once into a pipe writes terminal escapes")
		}
		topInTmux(t, f)
	})
}

// topInTmux runs fcmonctl top in a tmux terminal: the screen shows the
// fleet, is redrawn in place (one header on it, its clock moving), and
// Ctrl-C ends it.
func topInTmux(t *testing.T, f *fleet) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (make test installs it through scripts/install-deps.sh)")
	}
	session := fmt.Sprintf("fcmonctl-test-%d", os.Getpid())
	socket := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) (string, error) {
		out, err := exec.Command("tmux", append([]string{"-S", socket}, args...)...).CombinedOutput()
		return string(out), err
	}
	command := "FCMON_MANAGER=" + f.url + " FCMON_TOKEN_FILE=" + f.tokenFile + " " + ctlBin + " top; echo exit=$?; sleep 30"
	if out, err := tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "60", command); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { tmux("kill-server") })
	screen := func() string { s, _ := tmux("capture-pane", "-p", "-t", session); return s }
	header := func(s string) string {
		for _, l := range lines(s) {
			if strings.HasPrefix(l, "fcmon top — ") {
				return l
			}
		}
		return ""
	}
	var first string
	defer func() {
		if t.Failed() {
			t.Logf("the terminal:\n%s", screen())
		}
	}()
	poll.Until(t, 15*time.Second, "top's screen with the live VM", func() bool {
		s := screen()
		first = header(s)
		return first != "" && strings.Contains(first, "2 VMs") && strings.Contains(s, "web-1")
	})
	poll.Until(t, 15*time.Second, "top's screen redrawn with a later clock", func() bool {
		s := screen()
		h := header(s)
		return h != "" && h != first && strings.Count(s, "fcmon top — ") == 1
	})
	if _, err := tmux("send-keys", "-t", session, "C-c"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 10*time.Second, "top ended by Ctrl-C with status 0", func() bool { return strings.Contains(screen(), "exit=0") })
}

// syncBuffer is a bytes.Buffer safe for a process's writes and the test's
// reads at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
