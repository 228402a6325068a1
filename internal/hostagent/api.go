package hostagent

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/procstat"
)

// Handler returns the HTTP API:
//
//	GET    /health                         "OK", never authenticated
//	GET    /metrics                        Prometheus text for every attached VM
//	GET    /metrics/process-stats?pid=N    one process (wire.ProcessStats)
//	GET    /v1/vms                         attached VMs ([]wire.VMInfo, sorted by id)
//	POST   /v1/vms                         attach or update (wire.VMConfig) → 201 new, 200 updated
//	GET    /v1/vms/{id}                    one VM (wire.VMInfo)
//	DELETE /v1/vms/{id}                    detach → 204
//	GET    /v1/vms/{id}/stats              wire.VMStats
//
// Errors are {"error": "..."} with a 4xx or 5xx status. A request whose
// Host does not name this agent gets 421 (the DNS-rebinding defence).
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	auth := a.requireToken
	mux.Handle("/health", a.serve(methods{"GET": a.health}))
	mux.Handle("/metrics", auth(a.serve(methods{"GET": a.promHandler()})))
	mux.Handle("/metrics/process-stats", auth(a.serve(methods{"GET": a.processStats})))
	mux.Handle("/v1/vms", auth(a.serve(methods{"GET": a.listVMs, "POST": a.attachVM})))
	mux.Handle("/v1/vms/{id}", auth(a.serve(methods{"GET": a.getVM, "DELETE": a.detachVM})))
	mux.Handle("/v1/vms/{id}/stats", auth(a.serve(methods{"GET": a.vmStats})))
	mux.Handle("/v1/samples", auth(a.serve(methods{"GET": a.samples})))
	mux.Handle("/", a.serve(methods{
		"GET": notFound, "POST": notFound, "PUT": notFound, "DELETE": notFound, "PATCH": notFound,
	}))
	return httpapi.CheckHost(a.set.hosts, a.writeError, mux)
}

func notFound(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Errorf(http.StatusNotFound, "no endpoint %s", r.URL.Path)
}

func (a *Agent) health(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("OK"))
	return err
}

// processStats answers GET /metrics/process-stats?pid=N from the tracker:
// 400 for a missing or malformed pid, 404 when no such process lives.
func (a *Agent) processStats(w http.ResponseWriter, r *http.Request) error {
	pid, err := parsePID(r)
	if err != nil {
		return err
	}
	st, err := a.procs.Stats(pid)
	switch {
	case errors.Is(err, procstat.ErrNotFound):
		return httpapi.Error{Status: http.StatusNotFound, Message: err.Error()}
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func parsePID(r *http.Request) (int, error) {
	q, err := parseQuery(r)
	if err != nil {
		return 0, err
	}
	vals := q["pid"]
	if len(vals) != 1 {
		return 0, badRequest("expected exactly one pid parameter, as in ?pid=1234")
	}
	s := vals[0]
	pid, err := strconv.Atoi(s)
	if err != nil || pid < 1 || pid > pidMax || s[0] == '+' {
		return 0, badRequest("pid %q is not a process id (an integer from 1 to %d)", s, pidMax)
	}
	return pid, nil
}

func parseQuery(r *http.Request) (map[string][]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("malformed query string: %v", err)
	}
	return q, nil
}

func (a *Agent) listVMs(w http.ResponseWriter, r *http.Request) error {
	vms := a.snapshot()
	out := make([]wire.VMInfo, len(vms))
	for i, v := range vms {
		out[i] = v.info()
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *Agent) attachVM(w http.ResponseWriter, r *http.Request) error {
	var cfg wire.VMConfig
	if err := decodeBody(w, r, &cfg); err != nil {
		return err
	}
	info, created, err := a.Attach(cfg)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/vms/"+cfg.ID)
	}
	return writeJSON(w, status, info)
}

func (a *Agent) vmFromPath(r *http.Request) (*vm, error) {
	id := r.PathValue("id")
	v, ok := a.lookup(id)
	if !ok {
		return nil, httpapi.Errorf(http.StatusNotFound, "no VM %q is attached", id)
	}
	return v, nil
}

func (a *Agent) getVM(w http.ResponseWriter, r *http.Request) error {
	v, err := a.vmFromPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v.info())
}

func (a *Agent) detachVM(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ok, err := a.Detach(id)
	switch {
	case !ok:
		return httpapi.Errorf(http.StatusNotFound, "no VM %q is attached", id)
	case errors.Is(err, ErrDiscovered):
		return httpapi.Errorf(http.StatusConflict,
			"VM %q was discovered, not attached: it leaves when its Firecracker process exits (--discover=false watches attached VMs only)", id)
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *Agent) vmStats(w http.ResponseWriter, r *http.Request) error {
	v, err := a.vmFromPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.stats(v))
}

// promHandler serves the agent's registry (see prom.go).
func (a *Agent) promHandler() handler {
	h := promhttp.HandlerFor(prometheus.Gatherers{a.registry(), guestGatherer{a}}, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{a.log},
		ErrorHandling: promhttp.ContinueOnError,
	})
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}
