package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

const (
	hostA = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	hostB = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
)

func testHosts(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	withClock(s, 1_700_000_000_000)
	h, err := s.CreateHost(ctx, Host{ID: hostB, URL: "http://10.0.0.2:9091"})
	if err != nil || h.ID != hostB || h.CreatedMs != 1_700_000_000_000 || h.Name != "" {
		t.Fatalf("CreateHost = %+v, %v", h, err)
	}
	if _, err := s.CreateHost(ctx, Host{ID: hostA, URL: "http://10.0.0.2:9091"}); !errors.Is(err, ErrExists) {
		t.Errorf("a second host at the same URL: %v", err)
	}
	if _, err := s.CreateHost(ctx, Host{ID: hostB, URL: "http://10.0.0.3:9091"}); !errors.Is(err, ErrExists) {
		t.Errorf("a second host with the same id: %v", err)
	}
	if _, err := s.CreateHost(ctx, Host{ID: hostA, URL: ""}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a host without a URL: %v", err)
	}
	if _, err := s.CreateHost(ctx, Host{ID: hostA, URL: "http://10.0.0.1:9091"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHostName(ctx, hostA, "fc-1"); err != nil {
		t.Fatal(err)
	}
	hosts, err := s.ListHosts(ctx)
	if err != nil || len(hosts) != 2 || hosts[0].ID != hostA || hosts[0].Name != "fc-1" || hosts[1].ID != hostB {
		t.Fatalf("ListHosts = %+v, %v", hosts, err)
	}
	if _, err := s.GetHost(ctx, idX); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetHost of an unknown id: %v", err)
	}

	// VMs of a host: one per host and host id.
	vm, err := s.CreateVM(ctx, VM{ID: idA, Name: "fc-a", HostID: hostA, HostVMID: "a"})
	if err != nil || vm.HostID != hostA || vm.HostVMID != "a" || vm.GoneMs != 0 {
		t.Fatalf("CreateVM of a host's VM = %+v, %v", vm, err)
	}
	if _, err := s.CreateVM(ctx, VM{ID: idB, Name: "dup", HostID: hostA, HostVMID: "a"}); !errors.Is(err, ErrExists) {
		t.Errorf("the same host VM twice: %v", err)
	}
	if _, err := s.CreateVM(ctx, VM{ID: idB, Name: "b", HostID: hostB, HostVMID: "a"}); err != nil {
		t.Errorf("the same host VM id on another host: %v", err)
	}
	if _, err := s.CreateVM(ctx, VM{ID: idC, Name: "c", HostID: idX, HostVMID: "c"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a VM of an unknown host: %v", err)
	}
	if _, err := s.CreateVM(ctx, VM{ID: idC, Name: "c", HostID: hostA}); !errors.Is(err, ErrInvalid) {
		t.Errorf("host_id without host_vm_id: %v", err)
	}

	// Gone and back, then pruned.
	if err := s.SetVMsGone(ctx, []string{idA, idX}, 1_700_000_100_000); err != nil {
		t.Fatal(err)
	}
	if vm, _ := s.GetVM(ctx, idA); vm.GoneMs != 1_700_000_100_000 {
		t.Errorf("gone_ms %d", vm.GoneMs)
	}
	if err := s.SetVMsGone(ctx, []string{idA}, 0); err != nil {
		t.Fatal(err)
	}
	if vm, _ := s.GetVM(ctx, idA); vm.GoneMs != 0 {
		t.Errorf("back: gone_ms %d", vm.GoneMs)
	}
	s.SetVMsGone(ctx, []string{idA}, 1_700_000_100_000)
	if ids, err := s.PruneVMs(ctx, PruneQuery{GoneBeforeMs: 1_700_000_100_001}); err != nil || len(ids) != 1 || ids[0] != idA {
		t.Errorf("PruneVMs = %v, %v", ids, err)
	}
	if _, err := s.GetVM(ctx, idA); !errors.Is(err, ErrNotFound) {
		t.Errorf("a pruned VM: %v", err)
	}

	// Deleting a host keeps its VMs, gone.
	if err := s.DeleteHost(ctx, hostB, 1_700_000_200_000); err != nil {
		t.Fatal(err)
	}
	if vm, err := s.GetVM(ctx, idB); err != nil || vm.HostID != "" || vm.GoneMs != 1_700_000_200_000 {
		t.Errorf("the VM of a deleted host: %+v, %v", vm, err)
	}
	if err := s.DeleteHost(ctx, hostB, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting an unknown host: %v", err)
	}
}

// testManyGone marks more VMs gone than one statement takes.
func testManyGone(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	var ids []string
	for i := range 1200 {
		id := uuidFor(i)
		mustCreate(t, s, VM{ID: id, Name: id})
		ids = append(ids, id)
	}
	if err := s.SetVMsGone(ctx, ids, 5); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.PruneVMs(ctx, PruneQuery{GoneBeforeMs: 6}); err != nil || len(ids) != 1200 {
		t.Errorf("PruneVMs = %d ids, %v", len(ids), err)
	}
}

// testPruneKinds: the unsampled gone VMs of host agents, and the oldest
// gone VMs, each pruned alone.
func testPruneKinds(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	if _, err := s.CreateHost(ctx, Host{ID: hostA, URL: "http://10.0.0.1:9091"}); err != nil {
		t.Fatal(err)
	}
	made, err := s.CreateVMs(ctx, []VM{
		{ID: uuidFor(1), Name: "sampled", HostID: hostA, HostVMID: "s"},
		{ID: uuidFor(2), Name: "unsampled", HostID: hostA, HostVMID: "u"},
		{ID: uuidFor(3), Name: "later", HostID: hostA, HostVMID: "l"},
		{ID: uuidFor(4), Name: "live", HostID: hostA, HostVMID: "v"},
	})
	if err != nil || len(made) != 4 {
		t.Fatalf("CreateVMs = %d, %v", len(made), err)
	}
	mustCreate(t, s, VM{ID: uuidFor(5), Name: "direct"})
	// A minute without a figure does not count as a sample.
	if err := s.UpsertRollups(ctx, []Rollup{{VMID: uuidFor(2), MinuteMs: 60_000, Samples: 3, Source: "none", MemorySource: "none"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertRollups(ctx, []Rollup{{VMID: uuidFor(1), MinuteMs: 60_000, Samples: 1, Source: "guest", SourceSamples: 1,
		MemorySource: "guest", MemorySourceSamples: 1}}); err != nil {
		t.Fatal(err)
	}
	s.SetVMsGone(ctx, []string{uuidFor(1), uuidFor(2), uuidFor(5)}, 10)
	s.SetVMsGone(ctx, []string{uuidFor(3)}, 20)
	ids, err := s.PruneVMs(ctx, PruneQuery{GoneBeforeMs: 15, Unsampled: true})
	if err != nil || len(ids) != 1 || ids[0] != uuidFor(2) {
		t.Errorf("unsampled: %v, %v; want only %s", ids, err, uuidFor(2))
	}
	ids, err = s.PruneVMs(ctx, PruneQuery{Oldest: 2})
	if err != nil || len(ids) != 2 || !slices.Contains(ids, uuidFor(1)) || !slices.Contains(ids, uuidFor(5)) {
		t.Errorf("oldest: %v, %v", ids, err)
	}
	left, _ := s.ListVMs(ctx)
	if len(left) != 2 {
		t.Errorf("left %+v", left)
	}
}

// uuidFor is a distinct UUID for each i.
func uuidFor(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// testCreateVMs registers many VMs at once: taken ids are left out, a VM of
// an unknown host stores none.
func testCreateVMs(t *testing.T, url string) {
	ctx := context.Background()
	s := openStore(t, url)
	if _, err := s.CreateHost(ctx, Host{ID: hostA, URL: "http://10.0.0.1:9091"}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, VM{ID: uuidFor(3), Name: "taken"})
	var vms []VM
	for i := range 250 {
		vms = append(vms, VM{ID: uuidFor(i), Name: fmt.Sprint("fc-", i), HostID: hostA, HostVMID: fmt.Sprint("fc-", i)})
	}
	made, err := s.CreateVMs(ctx, vms)
	if err != nil || len(made) != 249 {
		t.Fatalf("CreateVMs = %d VMs, %v; want 249", len(made), err)
	}
	if made[0].HostID != hostA || made[0].GuestPort != 8080 || made[0].CreatedMs == 0 {
		t.Errorf("created %+v", made[0])
	}
	if again, err := s.CreateVMs(ctx, vms[:10]); err != nil || len(again) != 0 {
		t.Errorf("the same VMs again: %d, %v", len(again), err)
	}
	bad := []VM{{ID: uuidFor(900), Name: "x", HostID: hostA, HostVMID: "x"}, {ID: uuidFor(901), Name: "y", HostID: idX, HostVMID: "y"}}
	if _, err := s.CreateVMs(ctx, bad); !errors.Is(err, ErrNotFound) {
		t.Errorf("a VM of an unknown host: %v", err)
	}
	if _, err := s.GetVM(ctx, uuidFor(900)); !errors.Is(err, ErrNotFound) {
		t.Errorf("the refused batch stored a VM: %v", err)
	}
}
