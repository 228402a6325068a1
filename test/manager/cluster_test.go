package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/testbuild"
	"github.com/fcmon/fcmon/internal/testsupport/testprog"
)

// TestManagersShareAFleet: three managers on one PostgreSQL divide 30
// simulated host agents (10 VMs each) between them, each collected by
// exactly one; a manager killed with SIGKILL has its hosts collected by
// the others within 10 s, no VM lost; restarted, it rejoins and takes a
// share again. Any manager answers the latest sample of any VM.
func TestManagersShareAFleet(t *testing.T) {
	const hosts, perHost = 30, 10
	db := needPostgres(t)
	fleetBin, err := testbuild.Build(t.TempDir(), "./test/bench/fleet", "fleet")
	if err != nil {
		t.Fatal(err)
	}
	const port = 18574
	testprog.Start(t, fleetBin, t.TempDir(), nil, regexp.MustCompile(`ready (\d+) hosts`),
		"-first", "127.33.0.1", "-n", strconv.Itoa(hosts), "-per-host", strconv.Itoa(perHost), "-port", strconv.Itoa(port), "-max", "10m")
	urls := make([]string, hosts)
	for i := range urls {
		urls[i] = fmt.Sprintf("http://127.33.0.%d:%d", i+1, port)
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("admin ops "+clusterAdmin+"\nread acme "+clusterAcme+" tenant=acme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--poll-interval", "1s", "--host-agents", strings.Join(urls, ","), "--tokens-file", tokens}
	start := func() *manager {
		m := startManager(t, db, args...)
		m.token = clusterAdmin
		return m
	}
	ms := []*manager{start(), start(), start()}

	began := time.Now()
	owners := waitShared(t, ms, hosts, 20*time.Second)
	t.Logf("3 managers: hosts shared %v after they started: %v", time.Since(began).Round(time.Millisecond), counts(owners, ms))
	checkFleet(t, ms, hosts*perHost)

	// Any manager answers for any VM, the one collecting it or not.
	var vms []wire.VM
	ms[1].must(t, 200, "GET", "/v1/vms", nil, &vms)
	for _, vm := range vms[:5] {
		for i, m := range ms {
			var s wire.CombinedSample
			m.must(t, 200, "GET", "/v1/vms/"+vm.ID+"/metrics", nil, &s)
			if s.Source != wire.SourceGuest || s.Stale || time.Since(time.UnixMilli(s.TimestampMs)) > 5*time.Second {
				t.Errorf("manager %d on %s (host %s): %s", i, vm.Name, vm.HostID, show(s))
			}
		}
	}

	// A fleet stream client of one manager watching VMs another collects
	// gets their samples too (relayed from their collector).
	var theirs []wire.VM
	for _, vm := range vms {
		if owners[vm.HostID] != 1 && len(theirs) < 4 {
			theirs = append(theirs, vm)
		}
	}
	watchPeers(t, ms[1], theirs)
	scopedAcrossManagers(t, ms, vms, owners)

	// The live window is the collecting manager's: the others ask it.
	since := time.Now().Add(-8 * time.Second).UnixMilli()
	for _, vm := range vms[:3] {
		for i, m := range ms {
			var h wire.History
			m.must(t, 200, "GET", "/v1/vms/"+vm.ID+"/metrics/history?since="+strconv.FormatInt(since, 10), nil, &h)
			if h.Resolution != wire.ResolutionRaw || len(h.Points) < 4 || h.VMID != vm.ID {
				t.Errorf("manager %d, history of %s: %s with %d points", i, vm.Name, h.Resolution, len(h.Points))
			}
		}
	}

	ms[0].Signal(syscall.SIGKILL)
	killed := time.Now()
	survivors := ms[1:]
	waitShared(t, survivors, hosts, 10*time.Second)
	t.Logf("manager 0 killed: its hosts collected by the others after %v", time.Since(killed).Round(time.Millisecond))
	checkFleet(t, survivors, hosts*perHost)

	ms[0] = start()
	back := time.Now()
	owners = waitShared(t, ms, hosts, 20*time.Second)
	t.Logf("manager 0 restarted: rejoined, holding hosts, after %v: %v", time.Since(back).Round(time.Millisecond), counts(owners, ms))
	checkFleet(t, ms, hosts*perHost)
}

const (
	clusterAdmin = "cluster-admin-token-0123"
	clusterAcme  = "cluster-acme-token-01234"
)

// scopedAcrossManagers labels seven VMs of hosts the three managers
// share out tenant=acme, and checks that a token scoped to it reads those
// seven, and only those, through every manager: the merged fleet, pages,
// groups, and a 404 for any other VM, wherever it is collected.
func scopedAcrossManagers(t *testing.T, ms []*manager, vms []wire.VM, owners map[string]int) {
	t.Helper()
	acme := map[string]bool{}
	byOwner := map[int]int{}
	for _, vm := range vms {
		if o := owners[vm.HostID]; len(acme) < 7 && byOwner[o] < 3 {
			byOwner[o]++
			acme[vm.ID] = true
			ms[0].must(t, 200, "PATCH", "/v1/vms/"+vm.ID, map[string]any{"labels": map[string]string{"tenant": "acme"}}, nil)
		}
	}
	if len(byOwner) < 2 {
		t.Fatalf("the acme VMs lie with %d managers; want them spread", len(byOwner))
	}
	var other wire.VM
	for _, vm := range vms {
		if !acme[vm.ID] {
			other = vm
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		problem := ""
		for i, m := range ms {
			scoped := &manager{proc: m.proc, base: m.base, token: clusterAcme}
			var f wire.Fleet
			scoped.must(t, 200, "GET", "/v1/fleet?group_by=tenant", nil, &f)
			var p wire.VMPage
			scoped.must(t, 200, "GET", "/v1/vms?limit=100", nil, &p)
			switch {
			case f.VMs != len(acme) || len(f.Groups) != 1 || f.Groups[0].Value != "acme" || f.Groups[0].VMs != len(acme):
				problem = fmt.Sprintf("manager %d: the scoped fleet has %d VMs, groups %+v; want %d of acme", i, f.VMs, f.Groups, len(acme))
			case p.Total != len(acme) || len(p.VMs) != len(acme):
				problem = fmt.Sprintf("manager %d: the scoped page has %d of %d VMs, want %d", i, len(p.VMs), p.Total, len(acme))
			}
			for _, r := range p.VMs {
				if !acme[r.ID] || r.Latest == nil {
					problem = fmt.Sprintf("manager %d: the scoped page holds %s (acme %v, sample %v)", i, r.Name, acme[r.ID], r.Latest != nil)
				}
			}
			if code, _ := scoped.call(t, "GET", "/v1/vms/"+other.ID+"/metrics", nil); code != 404 {
				problem = fmt.Sprintf("manager %d: another tenant's VM answers %d to the scoped token, want 404", i, code)
			}
		}
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(problem)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitShared waits until the managers' views agree that each of them is
// a member holding at least one host and every host is held by exactly
// one of them, and until each manager has polled exactly the hosts it
// holds within the last 2 s. It returns each host's owner (index in ms).
func waitShared(t *testing.T, ms []*manager, hosts int, within time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(within)
	var why string
	for time.Now().Before(deadline) {
		owners, problem := shared(t, ms, hosts)
		if problem == "" {
			return owners
		}
		why = problem
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("after %v: %s", within, why)
	return nil
}

func shared(t *testing.T, ms []*manager, hosts int) (map[string]int, string) {
	ids := make([]string, len(ms))
	var views []wire.Cluster
	for i, m := range ms {
		var c wire.Cluster
		if code, body := m.call(t, "GET", "/v1/cluster", nil); code != 200 {
			return nil, fmt.Sprintf("manager %d: GET /v1/cluster %d %s", i, code, body)
		} else if err := json.Unmarshal(body, &c); err != nil {
			return nil, err.Error()
		}
		ids[i] = c.Self
		views = append(views, c)
	}
	owners := map[string]int{}
	for i, v := range views {
		if len(v.Members) != len(ms) {
			return nil, fmt.Sprintf("manager %d sees %d members, want %d", i, len(v.Members), len(ms))
		}
		for _, mem := range v.Members {
			j := slices.Index(ids, mem.ID)
			if j < 0 {
				return nil, fmt.Sprintf("manager %d lists a member %s that is none of them", i, mem.ID)
			}
			if len(mem.Hosts) == 0 {
				return nil, fmt.Sprintf("manager %d: member %d holds no host", i, j)
			}
			for _, h := range mem.Hosts {
				if o, ok := owners[h]; ok && o != j {
					return nil, fmt.Sprintf("host %s held by managers %d and %d", h, o, j)
				}
				owners[h] = j
			}
		}
	}
	if len(owners) != hosts {
		return nil, fmt.Sprintf("%d hosts held, want %d", len(owners), hosts)
	}
	// What each manager actually polls: the hosts it answered for lately.
	for i, m := range ms {
		var hs []wire.Host
		m.must(t, 200, "GET", "/v1/hosts", nil, &hs)
		for _, h := range hs {
			fresh := h.LastSuccessMs > 0 && time.Since(time.UnixMilli(h.LastSuccessMs)) < 2*time.Second
			if fresh != (owners[h.ID] == i) {
				return nil, fmt.Sprintf("manager %d polled host %s lately: %v, but it is manager %d's", i, h.URL, fresh, owners[h.ID])
			}
		}
	}
	return owners, ""
}

// checkFleet: every VM is in each manager's registry, and each manager's
// fleet-wide answers (GET /v1/fleet, the pages of GET /v1/vms) show all of
// them live, whichever manager collects them (it asks the others). A
// manager sees VMs another one registered when it reads the registry again
// (within 10 s), so this waits up to 15 s.
func checkFleet(t *testing.T, ms []*manager, vms int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		problem := ""
		var pages []string
		for i, m := range ms {
			var f wire.Fleet
			m.must(t, 200, "GET", "/v1/fleet", nil, &f)
			if f.VMs != vms || f.ByState[wire.StateLive] != vms || len(f.MissingManagers) != 0 || len(f.Top.CPU) != wire.FleetTopN {
				problem = fmt.Sprintf("manager %d: %d VMs, %v, top CPU %d, missing %v; want all %d live", i, f.VMs, f.ByState, len(f.Top.CPU), f.MissingManagers, vms)
			}
			var p wire.VMPage
			m.must(t, 200, "GET", "/v1/vms?sort=name&limit=60&offset=120", nil, &p)
			ids := ""
			for _, r := range p.VMs {
				if r.State != wire.StateLive || r.Latest == nil || r.Latest.Source != wire.SourceGuest {
					problem = fmt.Sprintf("manager %d: %s is %s in the list", i, r.Name, r.State)
				}
				ids += r.ID + " "
			}
			if p.Total != vms || len(p.VMs) != 60 {
				problem = fmt.Sprintf("manager %d: a page of %d of %d VMs, want 60 of %d", i, len(p.VMs), p.Total, vms)
			}
			pages = append(pages, ids)
		}
		for i := range pages {
			if problem == "" && pages[i] != pages[0] {
				problem = fmt.Sprintf("managers 0 and %d list different VMs on one page", i)
			}
		}
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(problem)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func counts(owners map[string]int, ms []*manager) []int {
	n := make([]int, len(ms))
	for _, o := range owners {
		n[o]++
	}
	return n
}

// watchPeers opens m's fleet stream, watches vms, and waits until a fresh
// sample of each has arrived on it, whichever manager collects it.
func watchPeers(t *testing.T, m *manager, vms []wire.VM) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(m.base, "http")+"/v1/fleet/ws",
		&websocket.DialOptions{Subprotocols: []string{"fcmon.v1"}, HTTPHeader: http.Header{"Authorization": {"Bearer " + m.token}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(websocket.StatusNormalClosure, "")
	want := map[string]bool{}
	var ids []string
	for _, vm := range vms {
		want[vm.ID] = true
		ids = append(ids, vm.ID)
	}
	msg, _ := json.Marshal(wire.WatchRequest{Watch: ids})
	if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-3 * time.Second).UnixMilli()
	for len(want) > 0 {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("fleet stream: samples of %d watched VMs did not come: %v", len(want), err)
		}
		var s wire.CombinedSample
		if json.Unmarshal(data, &s) == nil && want[s.VMID] && s.TimestampMs > since && s.Source == wire.SourceGuest {
			delete(want, s.VMID)
		}
	}
}
