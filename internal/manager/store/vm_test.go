package store

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
)

const (
	idA = "11111111-1111-4111-8111-111111111111"
	idB = "22222222-2222-4222-8222-222222222222"
	idC = "33333333-3333-4333-8333-333333333333"
	idX = "99999999-9999-4999-8999-999999999999" // never created
)

func testCreateGetList(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	withClock(s, 1_700_000_000_000)
	full := VM{
		ID: idB, Name: "web", GuestIP: "192.168.1.100", GuestPort: 9000,
		HostAgentURL: "http://127.0.0.1:9091", VMMPID: 4242,
		MetricsFIFO: "/run/fc/web.metrics", APISocket: "/run/fc/web.sock",
	}
	got := mustCreate(t, s, full)
	want := full
	want.CreatedMs, want.UpdatedMs = 1_700_000_000_000, 1_700_000_000_000
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CreateVM returned %+v, want %+v", got, want)
	}
	if got, err := s.GetVM(ctx, idB); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetVM = %+v, %v; want %+v", got, err, want)
	}
	// Same name: the id orders them.
	mustCreate(t, s, VM{ID: idC, Name: "db"})
	mustCreate(t, s, VM{ID: idA, Name: "db"})
	vms, err := s.ListVMs(ctx)
	if err != nil {
		t.Fatalf("ListVMs: %v", err)
	}
	var ids []string
	for _, vm := range vms {
		ids = append(ids, vm.ID)
	}
	if len(ids) != 3 || ids[0] != idA || ids[1] != idC || ids[2] != idB {
		t.Errorf("ListVMs order %v, want [%s %s %s]", ids, idA, idC, idB)
	}
	if vms[0].GuestPort != wire.DefaultGuestPort {
		t.Errorf("GuestPort of a VM created without one = %d, want %d", vms[0].GuestPort, wire.DefaultGuestPort)
	}
}

func testGuestIPNull(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	const q = `SELECT guest_ip IS NULL FROM vm WHERE id = $1`
	vm := mustCreate(t, s, VM{ID: idA, Name: "a"})
	if vm.GuestIP != "" || !isNull(t, s, q, idA) {
		t.Errorf("VM created without guest_ip: GuestIP %q, NULL in database %v", vm.GuestIP, isNull(t, s, q, idA))
	}
	for _, c := range []struct{ ip, want string }{{"10.0.0.7", "10.0.0.7"}, {"fd00::7", "fd00::7"}, {"", ""}} {
		if _, err := s.UpdateGuestIP(ctx, idA, c.ip, 0); err != nil {
			t.Fatalf("UpdateGuestIP(%q): %v", c.ip, err)
		}
		got, err := s.GetVM(ctx, idA)
		if err != nil || got.GuestIP != c.want {
			t.Errorf("after UpdateGuestIP(%q): GuestIP %q, %v", c.ip, got.GuestIP, err)
		}
		if null := isNull(t, s, q, idA); null != (c.ip == "") {
			t.Errorf("after UpdateGuestIP(%q): NULL in database = %v", c.ip, null)
		}
	}
	// The other optional columns are NULL too, not "" or 0.
	for _, col := range []string{"host_agent_url", "vmm_pid", "metrics_fifo", "api_socket"} {
		if !isNull(t, s, `SELECT `+col+` IS NULL FROM vm WHERE id = $1`, idA) {
			t.Errorf("%s of a VM created without it is not NULL", col)
		}
	}
}

func testUpdateGuestIP(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	clock := withClock(s, 1000)
	mustCreate(t, s, VM{ID: idA, Name: "a", GuestPort: 8081})
	clock.ms = 2000
	vm, err := s.UpdateGuestIP(ctx, idA, "10.1.2.3", 0)
	if err != nil {
		t.Fatal(err)
	}
	if vm.GuestIP != "10.1.2.3" || vm.GuestPort != 8081 || vm.CreatedMs != 1000 || vm.UpdatedMs != 2000 {
		t.Errorf("UpdateGuestIP(port 0) = %+v; want the address, port 8081 kept, created 1000, updated 2000", vm)
	}
	vm, err = s.UpdateGuestIP(ctx, idA, "10.1.2.4", 9100)
	if err != nil || vm.GuestPort != 9100 {
		t.Errorf("UpdateGuestIP(port 9100) = %+v, %v", vm, err)
	}
	if got, _ := s.GetVM(ctx, idA); !reflect.DeepEqual(got, vm) {
		t.Errorf("GetVM after update = %+v, UpdateGuestIP returned %+v", got, vm)
	}
}

func testDuplicate(t *testing.T, url string) {
	s := openStore(t, url)
	first := mustCreate(t, s, VM{ID: idA, Name: "first", GuestIP: "10.0.0.1"})
	_, err := s.CreateVM(context.Background(), VM{ID: idA, Name: "second"})
	wantErr(t, "CreateVM with a duplicate id", err, ErrExists)
	if got, _ := s.GetVM(context.Background(), idA); !reflect.DeepEqual(got, first) {
		t.Errorf("after a duplicate CreateVM the VM is %+v, want it unchanged: %+v", got, first)
	}
}

func testUnknown(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	_, err := s.GetVM(ctx, idX)
	wantErr(t, "GetVM", err, ErrNotFound)
	_, err = s.UpdateGuestIP(ctx, idX, "10.0.0.1", 0)
	wantErr(t, "UpdateGuestIP", err, ErrNotFound)
	wantErr(t, "DeleteVM", s.DeleteVM(ctx, idX), ErrNotFound)
	err = s.UpsertRollups(ctx, []Rollup{{VMID: idX, MinuteMs: 60_000, Source: wire.SourceNone, MemorySource: wire.SourceNone}})
	wantErr(t, "UpsertRollups", err, ErrNotFound)
	if rs, err := s.Rollups(ctx, idX, 0, 1<<62); err != nil || len(rs) != 0 {
		t.Errorf("Rollups of an unknown VM = %v, %v; want none and no error", rs, err)
	}
}

func testInvalid(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	for _, vm := range []VM{
		{ID: "", Name: "a"},
		{ID: idA, Name: ""},
		{ID: idA, Name: "a", GuestPort: 70000},
		{ID: idA, Name: "a", GuestPort: -1},
		{ID: idA, Name: "a", VMMPID: -5},
	} {
		_, err := s.CreateVM(ctx, vm)
		wantErr(t, "CreateVM("+vm.ID+")", err, ErrInvalid)
	}
	if vms, _ := s.ListVMs(ctx); len(vms) != 0 {
		t.Errorf("invalid VMs were stored: %+v", vms)
	}
	mustCreate(t, s, VM{ID: idA, Name: "a"})
	_, err := s.UpdateGuestIP(ctx, idA, "10.0.0.1", 65536)
	wantErr(t, "UpdateGuestIP with port 65536", err, ErrInvalid)
}

func testLabels(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	api := labels.Set{"tenant": "acme", "tier": "prod", "note": `quoted "ü" value`}
	vm := mustCreate(t, s, VM{ID: idA, Name: "a", Labels: api})
	if !vm.Labels.Equal(api) || !vm.Merged.Equal(api) || vm.LauncherLabels != nil {
		t.Fatalf("created with labels: %+v", vm)
	}
	// The launcher's labels merge under the API's.
	launcher := labels.Set{"tenant": "globex", "template": "py"}
	if err := s.SetLauncherLabels(ctx, map[string]labels.Set{idA: launcher, idX: launcher}); err != nil {
		t.Fatalf("SetLauncherLabels: %v", err)
	}
	got, err := s.GetVM(ctx, idA)
	want := labels.Set{"tenant": "acme", "tier": "prod", "note": api["note"], "template": "py"}
	if err != nil || !got.Merged.Equal(want) || !got.LauncherLabels.Equal(launcher) {
		t.Fatalf("after the launcher's: %+v, %v; merged want %v", got, err, want)
	}
	// PATCH's replace: all of them, none left of the old.
	got, err = s.SetLabels(ctx, idA, labels.Set{"app": "web"})
	if err != nil || !got.Labels.Equal(labels.Set{"app": "web"}) || !got.Merged.Equal(labels.Set{"app": "web", "tenant": "globex", "template": "py"}) {
		t.Fatalf("SetLabels: %+v, %v", got, err)
	}
	if got, err = s.SetLabels(ctx, idA, nil); err != nil || got.Labels != nil {
		t.Fatalf("SetLabels(nil): %+v, %v", got, err)
	}
	if !isNull(t, s, `SELECT labels IS NULL FROM vm WHERE id = $1`, idA) {
		t.Error("no labels are not stored as NULL")
	}
	if _, err := s.SetLabels(ctx, idX, api); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetLabels of an unknown VM: %v", err)
	}
	// A label the rules refuse changes nothing.
	if _, err := s.SetLabels(ctx, idA, labels.Set{"__x": "1"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetLabels(__x): %v", err)
	}
	if err := s.SetLauncherLabels(ctx, map[string]labels.Set{idA: {"tenant": ""}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetLauncherLabels(empty value): %v", err)
	}
	if got, _ := s.GetVM(ctx, idA); !got.LauncherLabels.Equal(launcher) {
		t.Errorf("a refused write changed the launcher labels: %v", got.LauncherLabels)
	}
	// Many VMs at once keep theirs.
	made, err := s.CreateVMs(ctx, []VM{{ID: idB, Name: "b", LauncherLabels: labels.Set{"tenant": "acme"}}, {ID: idC, Name: "c"}})
	if err != nil || len(made) != 2 || !made[0].Merged.Equal(labels.Set{"tenant": "acme"}) || made[1].Merged != nil {
		t.Fatalf("CreateVMs with labels: %+v, %v", made, err)
	}
}
