package api

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// prometheusSD answers GET /v1/prometheus/sd in Prometheus's HTTP service
// discovery format (http_sd_configs): one target per host agent, whose
// /metrics carries every VM of its host labelled vm_id, and one per
// directly polled guest agent, labelled with its VM.
func (a *API) prometheusSD(w http.ResponseWriter, r *http.Request) error {
	for name := range r.URL.Query() {
		if name != "label" {
			return badRequest("unknown parameter %q; GET /v1/prometheus/sd takes label only", clip(name))
		}
	}
	sel, err := selection(r)
	if err != nil {
		return err
	}
	hosts, err := a.opt.Store.ListHosts(r.Context())
	if err != nil {
		return err
	}
	if !sel.Empty() {
		// A host agent's /metrics holds every VM of its host: not a target
		// of a selection (its VMs carry their labels on fcmon_vm_info).
		hosts = nil
	}
	groups := make([]wire.SDTargetGroup, 0, len(hosts))
	for _, h := range hosts {
		u, err := url.Parse(h.URL)
		if err != nil || u.Host == "" { // stored URLs were checked: not expected
			continue
		}
		labels := map[string]string{
			"__scheme__": u.Scheme, "fcmon_role": "host_agent", "host": h.ID, "host_url": h.URL,
		}
		if u.Path != "" && u.Path != "/" {
			labels["__metrics_path__"] = u.Path + "/metrics"
		}
		if h.Name != "" {
			labels["host_name"] = h.Name
		}
		groups = append(groups, wire.SDTargetGroup{Targets: []string{u.Host}, Labels: labels})
	}
	vms, err := a.currentVMs(r.Context())
	if err != nil {
		return err
	}
	for i := range vms {
		vm := &vms[i]
		if vm.HostID != "" || vm.GoneMs != 0 || vm.GuestIP == "" || !sel.Matches(vm.Merged) {
			continue // read through its host agent, gone, not reachable directly, or not selected
		}
		target := map[string]string{"fcmon_role": "guest_agent", "vm_id": vm.ID, "vm_name": vm.Name}
		for k, v := range vm.Merged {
			target["__meta_fcmon_label_"+k] = v // for relabelling; the chosen ones below
		}
		for _, k := range a.opt.PrometheusLabels {
			if v, ok := vm.Merged[k]; ok {
				target[k] = v
			}
		}
		groups = append(groups, wire.SDTargetGroup{
			Targets: []string{net.JoinHostPort(vm.GuestIP, strconv.Itoa(vm.GuestPort))},
			Labels:  target,
		})
	}
	return writeJSON(w, http.StatusOK, groups)
}

// clusterLatest answers GET /v1/cluster/latest?ids=a,b,...: the latest
// samples of those VMs (at most wire.MaxWatch) that this manager
// collects, so another manager can show them on its clients' screens.
func (a *API) clusterLatest(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for name := range q {
		if name != "ids" {
			return badRequest("unknown parameter %q; expected ids", clip(name))
		}
	}
	if len(q["ids"]) != 1 || q.Get("ids") == "" {
		return badRequest("ids is required once: comma-separated VM ids")
	}
	ids := strings.Split(q.Get("ids"), ",")
	if len(ids) > wire.MaxWatch {
		return badRequest("ids lists %d VMs; at most %d", len(ids), wire.MaxWatch)
	}
	out := []wire.CombinedSample{}
	for _, raw := range ids {
		id, err := checkID("VM id", raw)
		if err != nil {
			return err
		}
		if a.opt.Samples == nil {
			continue
		}
		if s, ok := a.opt.Samples.Latest(id); ok {
			out = append(out, s)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// cluster answers GET /v1/cluster.
func (a *API) cluster(w http.ResponseWriter, r *http.Request) error {
	if a.opt.Cluster == nil {
		return unavailable("the cluster view")
	}
	if len(r.URL.Query()) > 0 {
		return badRequest("GET /v1/cluster takes no parameters")
	}
	return writeJSON(w, http.StatusOK, a.opt.Cluster.View())
}
