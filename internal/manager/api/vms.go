package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// createVM registers a VM (201 with it) and attaches it to its host agent.
// A host agent that cannot be reached does not fail the registration: the
// answer says so (as a class: the host agent's own words are not passed
// on), and the collector attaches the VM once it answers.
func (a *API) createVM(w http.ResponseWriter, r *http.Request) error {
	var req wire.CreateVMRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	vm, err := a.checkCreate(r.Context(), &req)
	if err != nil {
		return err
	}
	created, err := a.opt.Store.CreateVM(r.Context(), vm)
	if err != nil {
		return storeError(err)
	}
	view := a.view(created)
	if created.HostAgentURL != "" && a.opt.HostAgents != nil {
		res := wire.AttachResult{Attached: true}
		cfg := wire.VMConfig{ID: created.ID, PID: created.VMMPID, MetricsFIFO: created.MetricsFIFO, APISocket: created.APISocket}
		if e := a.opt.HostAgents.Attach(r.Context(), created.HostAgentURL, cfg); e != nil {
			res = wire.AttachResult{Error: e.Public()}
			a.log.Warn("attaching the new VM to its host agent failed; the collector retries",
				"vm_id", created.ID, "host_agent", created.HostAgentURL, "reason", e.Reason, "err", e)
		}
		view.HostAgent = &res
	}
	a.log.Info("VM registered", "vm_id", created.ID, "name", created.Name, "guest_ip", created.GuestIP)
	w.Header().Set("Location", "/v1/vms/"+created.ID)
	return writeJSON(w, http.StatusCreated, view)
}

// checkCreate validates a registration and returns the VM to store.
func (a *API) checkCreate(ctx context.Context, req *wire.CreateVMRequest) (store.VM, error) {
	vm := store.VM{Name: req.Name, VMMPID: req.VMMPID,
		MetricsFIFO: req.MetricsFIFO, APISocket: req.APISocket, GuestPort: wire.DefaultGuestPort}
	var err error
	if req.ID == nil {
		vm.ID = store.NewUUID()
	} else if vm.ID, err = checkID("id", *req.ID); err != nil {
		return vm, err
	}
	if err := checkName(req.Name); err != nil {
		return vm, err
	}
	if req.GuestIP != "" {
		if vm.GuestIP, err = a.checkGuestIP(req.GuestIP); err != nil {
			return vm, err
		}
	}
	if req.GuestPort != nil {
		if err := checkPort(*req.GuestPort); err != nil {
			return vm, err
		}
		vm.GuestPort = *req.GuestPort
	}
	if err := checkPID(req.VMMPID); err != nil {
		return vm, err
	}
	if err := checkPath("metrics_fifo", req.MetricsFIFO, maxPathBytes); err != nil {
		return vm, err
	}
	if err := checkPath("api_socket", req.APISocket, maxSocketPath); err != nil {
		return vm, err
	}
	if vm.Labels, err = checkLabels(req.Labels); err != nil {
		return vm, err
	}
	// Last, as it may look a name up.
	if req.HostAgentURL != "" {
		if vm.HostAgentURL, err = a.checkHostAgentURL(ctx, req.HostAgentURL); err != nil {
			return vm, err
		}
	}
	return vm, nil
}

// listVMs answers every VM with its latest status, sorted by name; from the
// cache while the database does not answer.
func (a *API) listVMs(w http.ResponseWriter, r *http.Request) error {
	if r.URL.RawQuery != "" {
		return a.listPage(w, r)
	}
	vms, err := a.opt.Store.ListVMs(r.Context())
	if errors.Is(err, store.ErrUnavailable) && a.opt.Cache != nil {
		a.log.Warn("the database does not answer; listing VMs from memory", "err", err)
		vms, err = a.opt.Cache.CachedVMs(), nil
	}
	if err != nil {
		return err
	}
	if sc := scopeOf(r.Context()); !sc.Empty() {
		vms = slices.DeleteFunc(vms, func(vm store.VM) bool { return !sc.Matches(vm.Merged) })
	}
	if a.shared() && !a.clustered(r) {
		// A peer asking: the VMs this manager answers for.
		views := []wire.VM{}
		for i := range vms {
			if a.opt.Cluster.Owns(&vms[i]) {
				views = append(views, a.view(vms[i]))
			}
		}
		return writeJSON(w, http.StatusOK, views)
	}
	views := make([]wire.VM, len(vms))
	for i, vm := range vms {
		views[i] = a.view(vm)
	}
	if a.clustered(r) {
		// The status of the VMs other managers collect is theirs to tell;
		// a VM of a manager that does not answer keeps what this one knows.
		theirs := map[string]wire.VM{}
		bodies, _ := a.opt.Cluster.AskOthers(r.Context(), "/v1/vms")
		for _, b := range bodies {
			var vs []wire.VM
			if json.Unmarshal(b, &vs) == nil {
				for _, v := range vs {
					theirs[v.ID] = v
				}
			}
		}
		for i := range views {
			if v, ok := theirs[views[i].ID]; ok && !a.opt.Cluster.Owns(&vms[i]) {
				views[i].Source, views[i].MemorySource, views[i].LastSampleMs = v.Source, v.MemorySource, v.LastSampleMs
				views[i].Stale, views[i].GuestAgent, views[i].MetricsProblem = v.Stale, v.GuestAgent, v.MetricsProblem
			}
		}
	}
	return writeJSON(w, http.StatusOK, views)
}

func (a *API) getVM(w http.ResponseWriter, r *http.Request) error {
	vm, err := a.lookup(r)
	if err != nil {
		return err
	}
	// The status of a VM another manager collects is its to tell.
	var s wire.CombinedSample
	if a.fromPeer(r, vm, "/v1/vms/"+vm.ID+"/metrics", &s) && s.VMID == vm.ID {
		return writeJSON(w, http.StatusOK, a.viewWith(vm, s, true))
	}
	return writeJSON(w, http.StatusOK, a.view(vm))
}

// deleteVM removes the VM, its rollups and its live state (204), and
// detaches it from its host agent on a best-effort basis.
func (a *API) deleteVM(w http.ResponseWriter, r *http.Request) error {
	id, err := checkID("VM id", r.PathValue("id"))
	if err != nil {
		return err
	}
	vm, err := a.opt.Store.GetVM(r.Context(), id)
	if err != nil {
		return storeError(err)
	}
	if vm.HostID != "" && vm.GoneMs == 0 {
		return httpapi.Errorf(http.StatusConflict,
			"VM %s is reported by host agent %s; it leaves the registry when its host agent stops reporting it (or DELETE /v1/hosts/%s), and can be deleted then",
			vm.ID, vm.HostID, vm.HostID)
	}
	if err := a.opt.Store.DeleteVM(r.Context(), vm.ID); err != nil {
		return storeError(err)
	}
	a.opt.Forget(vm.ID)
	if vm.HostAgentURL != "" && a.opt.HostAgents != nil {
		if e := a.opt.HostAgents.Detach(r.Context(), vm.HostAgentURL, vm.ID); e != nil {
			a.log.Warn("detaching the deleted VM from its host agent failed", "vm_id", vm.ID,
				"host_agent", vm.HostAgentURL, "reason", e.Reason, "err", e)
		}
	}
	a.log.Info("VM deleted", "vm_id", vm.ID, "name", vm.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setGuestIP records the guest agent's address (200 with the VM): the call
// a guest agent makes to register itself.
func (a *API) setGuestIP(w http.ResponseWriter, r *http.Request) error {
	id, err := checkID("VM id", r.PathValue("id"))
	if err != nil {
		return err
	}
	var req wire.GuestIPRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.GuestIP == "" {
		return badRequest("guest_ip is missing; expected an IP literal such as 192.168.1.100")
	}
	ip, err := a.checkGuestIP(req.GuestIP)
	if err != nil {
		return err
	}
	port := 0 // keep the stored port
	if req.GuestPort != nil {
		if err := checkPort(*req.GuestPort); err != nil {
			return err
		}
		port = *req.GuestPort
	}
	vm, err := a.opt.Store.UpdateGuestIP(r.Context(), id, ip, port)
	if err != nil {
		return storeError(err)
	}
	a.log.Info("guest agent address set", "vm_id", vm.ID, "guest_ip", vm.GuestIP, "guest_port", vm.GuestPort)
	return writeJSON(w, http.StatusOK, a.view(vm))
}

// lookup returns the VM the path names: 400 for a malformed id, 404 for an
// unknown one.
func (a *API) lookup(r *http.Request) (store.VM, error) {
	return a.lookupID(r.Context(), r.PathValue("id"))
}

// lookupID reads a VM from the store, or from the cache while the database
// does not answer, so that its live figures stay available.
func (a *API) lookupID(ctx context.Context, raw string) (store.VM, error) {
	id, err := checkID("VM id", raw)
	if err != nil {
		return store.VM{}, err
	}
	vm, err := a.opt.Store.GetVM(ctx, id)
	if errors.Is(err, store.ErrUnavailable) && a.opt.Cache != nil {
		if cached, ok := a.opt.Cache.CachedVM(id); ok {
			vm, err = cached, nil
		}
	}
	if err == nil && !visible(ctx, &vm) {
		// Outside the caller's scope: as unknown, so ids cannot be probed.
		err = fmt.Errorf("vm %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.VM{}, storeError(err)
	}
	return vm, nil
}

// view is vm with its latest status.
func (a *API) view(vm store.VM) wire.VM {
	var s wire.CombinedSample
	has := false
	if a.opt.Samples != nil {
		s, has = a.opt.Samples.Latest(vm.ID)
	}
	return a.viewWith(vm, s, has)
}

// viewWith is view with the VM's latest sample at hand (has: there is one).
func (a *API) viewWith(vm store.VM, s wire.CombinedSample, has bool) wire.VM {
	v := wire.VM{ID: vm.ID, Name: vm.Name, GuestIP: vm.GuestIP, GuestPort: vm.GuestPort,
		HostAgentURL: vm.HostAgentURL, VMMPID: vm.VMMPID, MetricsFIFO: vm.MetricsFIFO,
		APISocket: vm.APISocket, CreatedMs: vm.CreatedMs, UpdatedMs: vm.UpdatedMs,
		HostID: vm.HostID, HostVMID: vm.HostVMID, GoneMs: vm.GoneMs,
		Labels: vm.Merged, LauncherLabels: vm.LauncherLabels,
		Source: wire.SourceNone, MemorySource: wire.SourceNone, Stale: true}
	if has {
		v.Source, v.MemorySource, v.LastSampleMs, v.Stale, v.GuestAgent = s.Source, s.MemorySource, s.TimestampMs, s.Stale, s.GuestAgent
		v.MetricsProblem = s.MetricsProblem
	}
	return v
}
