package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// CreateVMRequest is the body of POST /v1/vms. Only Name is required; an
// absent ID is generated, an absent GuestPort is 8080.
type CreateVMRequest struct {
	ID           *string `json:"id"`
	Name         string  `json:"name"`
	GuestIP      string  `json:"guest_ip"`
	GuestPort    *int    `json:"guest_port"`
	HostAgentURL string  `json:"host_agent_url"`
	VMMPID       int     `json:"vmm_pid"`
	MetricsFIFO  string  `json:"metrics_fifo"`
	APISocket    string  `json:"api_socket"`
}

// GuestIPRequest is the body of POST /v1/vms/{id}/guest-ip; an absent
// GuestPort keeps the VM's port.
type GuestIPRequest struct {
	GuestIP   string `json:"guest_ip"`
	GuestPort *int   `json:"guest_port"`
}

// VM is a registered VM as the API shows it: what was registered, then its
// latest status. Optional fields are absent when not set.
type VM struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	GuestIP      string `json:"guest_ip,omitempty"`
	GuestPort    int    `json:"guest_port"`
	HostAgentURL string `json:"host_agent_url,omitempty"`
	VMMPID       int    `json:"vmm_pid,omitempty"`
	MetricsFIFO  string `json:"metrics_fifo,omitempty"`
	APISocket    string `json:"api_socket,omitempty"`
	CreatedMs    int64  `json:"created_ms"`
	UpdatedMs    int64  `json:"updated_ms"`

	// Source is that of the latest sample: guest, host, or none (also
	// before the first poll).
	Source string `json:"source"`
	// LastSampleMs is when the latest sample was taken, Unix ms; 0 before
	// the first.
	LastSampleMs int64                 `json:"last_sample_ms"`
	Stale        bool                  `json:"stale"`
	GuestAgent   wire.GuestAgentStatus `json:"guest_agent"`

	// HostAgent reports the attach at the host agent; only in the answer
	// of POST /v1/vms for a VM with a host_agent_url.
	HostAgent *AttachResult `json:"host_agent,omitempty"`
}

// createVM registers a VM (201 with it) and attaches it to its host agent.
// A host agent that cannot be reached does not fail the registration: the
// answer says so, and the collector attaches the VM once it answers.
func (a *API) createVM(w http.ResponseWriter, r *http.Request) error {
	var req CreateVMRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	vm, err := a.checkCreate(&req)
	if err != nil {
		return err
	}
	created, err := a.opt.Store.CreateVM(r.Context(), vm)
	if err != nil {
		return storeError(err)
	}
	view := a.view(created)
	if created.HostAgentURL != "" && a.opt.HostAgents != nil {
		res := a.opt.HostAgents.Attach(r.Context(), created)
		if res.Error != "" {
			a.log.Warn("attaching the new VM to its host agent failed; the collector retries",
				"vm_id", created.ID, "host_agent", created.HostAgentURL, "err", res.Error)
		}
		view.HostAgent = &res
	}
	a.log.Info("VM registered", "vm_id", created.ID, "name", created.Name, "guest_ip", created.GuestIP)
	w.Header().Set("Location", "/v1/vms/"+created.ID)
	return writeJSON(w, http.StatusCreated, view)
}

// checkCreate validates a registration and returns the VM to store.
func (a *API) checkCreate(req *CreateVMRequest) (store.VM, error) {
	vm := store.VM{Name: req.Name, HostAgentURL: req.HostAgentURL, VMMPID: req.VMMPID,
		MetricsFIFO: req.MetricsFIFO, APISocket: req.APISocket, GuestPort: store.DefaultGuestPort}
	var err error
	if req.ID == nil {
		vm.ID = NewUUID()
	} else if vm.ID, err = checkID("id", *req.ID); err != nil {
		return vm, err
	}
	if err := checkName(req.Name); err != nil {
		return vm, err
	}
	if req.GuestIP != "" {
		if vm.GuestIP, err = checkGuestIP(req.GuestIP, a.opt.GuestAllow); err != nil {
			return vm, err
		}
	}
	if req.GuestPort != nil {
		if err := checkPort(*req.GuestPort); err != nil {
			return vm, err
		}
		vm.GuestPort = *req.GuestPort
	}
	if req.HostAgentURL != "" {
		if vm.HostAgentURL, err = checkHostAgentURL(req.HostAgentURL); err != nil {
			return vm, err
		}
	}
	if err := checkPID(req.VMMPID); err != nil {
		return vm, err
	}
	if err := checkPath("metrics_fifo", req.MetricsFIFO, maxPathBytes); err != nil {
		return vm, err
	}
	return vm, checkPath("api_socket", req.APISocket, maxSocketPath)
}

// listVMs answers every VM with its latest status, sorted by name.
func (a *API) listVMs(w http.ResponseWriter, r *http.Request) error {
	vms, err := a.opt.Store.ListVMs(r.Context())
	if err != nil {
		return err
	}
	views := make([]VM, len(vms))
	for i, vm := range vms {
		views[i] = a.view(vm)
	}
	return writeJSON(w, http.StatusOK, views)
}

func (a *API) getVM(w http.ResponseWriter, r *http.Request) error {
	vm, err := a.lookup(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.view(vm))
}

// deleteVM removes the VM, its rollups and its live state (204), and
// detaches it from its host agent on a best-effort basis.
func (a *API) deleteVM(w http.ResponseWriter, r *http.Request) error {
	vm, err := a.lookup(r)
	if err != nil {
		return err
	}
	if err := a.opt.Store.DeleteVM(r.Context(), vm.ID); err != nil {
		return storeError(err)
	}
	a.opt.Forget(vm.ID)
	if vm.HostAgentURL != "" && a.opt.HostAgents != nil {
		if err := a.opt.HostAgents.Detach(r.Context(), vm); err != nil {
			a.log.Warn("detaching the deleted VM from its host agent failed", "vm_id", vm.ID,
				"host_agent", vm.HostAgentURL, "err", err)
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
	var req GuestIPRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.GuestIP == "" {
		return badRequest("guest_ip is missing; expected an IP literal such as 192.168.1.100")
	}
	ip, err := checkGuestIP(req.GuestIP, a.opt.GuestAllow)
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

func (a *API) lookupID(ctx context.Context, raw string) (store.VM, error) {
	id, err := checkID("VM id", raw)
	if err != nil {
		return store.VM{}, err
	}
	vm, err := a.opt.Store.GetVM(ctx, id)
	if err != nil {
		return store.VM{}, storeError(err)
	}
	return vm, nil
}

// view is vm with its latest status.
func (a *API) view(vm store.VM) VM {
	v := VM{ID: vm.ID, Name: vm.Name, GuestIP: vm.GuestIP, GuestPort: vm.GuestPort,
		HostAgentURL: vm.HostAgentURL, VMMPID: vm.VMMPID, MetricsFIFO: vm.MetricsFIFO,
		APISocket: vm.APISocket, CreatedMs: vm.CreatedMs, UpdatedMs: vm.UpdatedMs,
		Source: wire.SourceNone, Stale: true}
	if a.opt.Samples == nil {
		return v
	}
	if s, ok := a.opt.Samples.Latest(vm.ID); ok {
		v.Source, v.LastSampleMs, v.Stale, v.GuestAgent = s.Source, s.TimestampMs, s.Stale, s.GuestAgent
	}
	return v
}

// storeError maps the store's sentinel errors to statuses.
func storeError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return APIError{http.StatusNotFound, fmt.Sprintf("%v; GET /v1/vms lists the registered VMs", err)}
	case errors.Is(err, store.ErrExists):
		return APIError{http.StatusConflict, fmt.Sprintf("%v; choose another id or omit it to have one generated", err)}
	case errors.Is(err, store.ErrInvalid):
		return badRequest("%v", err)
	}
	return err
}
