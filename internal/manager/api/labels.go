package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/access"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// scope says how a read route honours a scoped token (a read token with a
// SELECTOR): every read route names one, or Handler panics.
type scope uint8

const (
	// scopeNone: not a read (writes, which scoped tokens cannot make).
	scopeNone scope = iota
	// scopeFiltered: the answer holds the token's VMs only; a VM outside
	// its scope is a 404, as an unknown one.
	scopeFiltered
	// scopeRefused: the answer is about the fleet's machinery (host
	// agents, managers), not VMs: a scoped token gets a 403.
	scopeRefused
	// scopeAny: the same for every caller (GET /v1/whoami).
	scopeAny
)

// scopeOf is the VMs the caller of ctx may see; empty: all.
func scopeOf(ctx context.Context) labels.Selector {
	id, _ := ctx.Value(identityKey{}).(access.Identity)
	return id.Scope
}

// selection is what a read asks for: the caller's scope and the
// request's own ?label= terms, all of which must hold.
func selection(r *http.Request) (labels.Selector, error) {
	sel, err := labels.Parse(r.URL.Query()["label"])
	if err != nil {
		return sel, badRequest("label: %v", err)
	}
	return scopeOf(r.Context()).And(sel), nil
}

// withLabels sets q's label parameters to sel's terms: a request to
// another manager selects what this one's caller may see.
func withLabels(q url.Values, sel labels.Selector) url.Values {
	q.Del("label")
	for _, t := range sel.Terms() {
		q.Add("label", t)
	}
	return q
}

// visible reports whether the caller of ctx may see vm.
func visible(ctx context.Context, vm *store.VM) bool {
	return scopeOf(ctx).Matches(vm.Merged)
}

// checkLabels validates labels of a request body: a 400 naming the rule.
func checkLabels(m map[string]string) (labels.Set, error) {
	if len(m) == 0 {
		return nil, nil
	}
	set := labels.Set(m)
	if err := set.Check(); err != nil {
		return nil, badRequest("labels: %v", err)
	}
	return set, nil
}

// patchVM replaces the labels the API set on a VM (PATCH /v1/vms/{id}
// with {"labels": {...}}); the launcher's stay.
func (a *API) patchVM(w http.ResponseWriter, r *http.Request) error {
	id, err := checkID("VM id", r.PathValue("id"))
	if err != nil {
		return err
	}
	var req wire.PatchVMRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.Labels == nil {
		return badRequest(`labels is missing; PATCH /v1/vms/{id} takes {"labels": {"tenant": "acme"}} and replaces the labels set through the API ({} removes them)`)
	}
	set, err := checkLabels(*req.Labels)
	if err != nil {
		return err
	}
	vm, err := a.opt.Store.SetLabels(r.Context(), id, set)
	if err != nil {
		return storeError(err)
	}
	a.log.Info("VM labels set", "vm_id", vm.ID, "labels", set.String())
	return writeJSON(w, http.StatusOK, a.view(vm))
}

// refuseScoped is the 403 of a scopeRefused route for a scoped token.
func refuseScoped(id access.Identity, r *http.Request) error {
	return httpapi.Errorf(http.StatusForbidden,
		"token %q sees only the VMs with %s; %s is about the fleet's host agents and managers, not part of that view",
		id.Name, id.Scope, r.URL.Path)
}

// keeper is the filter of a stream or scrape of sel: nil (all VMs) for an
// empty selection, else whether a VM's labels, as the registry's cache
// last read them, match (an unknown VM does not).
func (a *API) keeper(sel labels.Selector) func(vmID string) bool {
	if sel.Empty() {
		return nil
	}
	return func(vmID string) bool {
		if a.opt.Cache != nil {
			set, ok := a.opt.Cache.LabelsOf(vmID)
			return ok && sel.Matches(set)
		}
		vm, err := a.opt.Store.GetVM(context.Background(), vmID)
		return err == nil && sel.Matches(vm.Merged)
	}
}
