package api

import (
	"errors"
	"net/http"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// createHost registers a host agent to collect from (201 with it): its
// URL passes the same checks as a VM's host_agent_url.
func (a *API) createHost(w http.ResponseWriter, r *http.Request) error {
	var req wire.CreateHostRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.URL == "" {
		return badRequest("url is missing; expected the host agent's base URL such as http://10.0.0.5:9091")
	}
	u, err := a.checkAgentURL(r.Context(), "url", req.URL)
	if err != nil {
		return err
	}
	h, err := a.opt.Store.CreateHost(r.Context(), store.Host{ID: store.NewUUID(), URL: u})
	if errors.Is(err, store.ErrExists) {
		return httpapi.Errorf(http.StatusConflict, "host agent %s is already registered; GET /v1/hosts lists them", u)
	}
	if err != nil {
		return err
	}
	a.log.Info("host agent added", "host_id", h.ID, "url", h.URL)
	w.Header().Set("Location", "/v1/hosts/"+h.ID)
	return writeJSON(w, http.StatusCreated, a.hostView(h))
}

// listHosts answers every host agent with how collecting it goes.
func (a *API) listHosts(w http.ResponseWriter, r *http.Request) error {
	hs, err := a.opt.Store.ListHosts(r.Context())
	if err != nil {
		return err
	}
	out := make([]wire.Host, len(hs))
	for i, h := range hs {
		out[i] = a.hostView(h)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) getHost(w http.ResponseWriter, r *http.Request) error {
	h, err := a.lookupHost(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.hostView(h))
}

// deleteHost stops collecting a host agent (204). Its VMs stay in the
// registry, with their history, marked gone.
func (a *API) deleteHost(w http.ResponseWriter, r *http.Request) error {
	h, err := a.lookupHost(r)
	if err != nil {
		return err
	}
	if err := a.opt.Store.DeleteHost(r.Context(), h.ID, a.opt.Now().UnixMilli()); err != nil {
		return hostError(err)
	}
	a.log.Info("host agent removed", "host_id", h.ID, "url", h.URL)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) lookupHost(r *http.Request) (store.Host, error) {
	id, err := checkID("host id", r.PathValue("id"))
	if err != nil {
		return store.Host{}, err
	}
	h, err := a.opt.Store.GetHost(r.Context(), id)
	if err != nil {
		return store.Host{}, hostError(err)
	}
	return h, nil
}

func hostError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return httpapi.Errorf(http.StatusNotFound, "%v; GET /v1/hosts lists the host agents", err)
	}
	return err
}

func (a *API) hostView(h store.Host) wire.Host {
	if a.opt.HostView != nil {
		return a.opt.HostView(h)
	}
	return wire.Host{ID: h.ID, URL: h.URL, Name: h.Name, CreatedMs: h.CreatedMs}
}
