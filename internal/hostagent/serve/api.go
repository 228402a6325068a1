// Package serve is the host agent's HTTP API and Prometheus exposition.
// It reads and changes the agent through the small Host interface, renders
// JSON, the dense encoding and Prometheus text, and holds no VM state of
// its own, so it is tested with a fake Host.
package serve

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// MaxPID is the kernel's PID_MAX_LIMIT: no pid is larger on any system.
const MaxPID = 4 << 20

// ErrDiscovered is what Host.Detach returns for a VM that is there because
// discovery found its Firecracker process: it leaves when the process does.
var ErrDiscovered = errors.New("discovered, not attached")

// ErrNoProcess is what Host.ProcessStats returns when no such process lives.
var ErrNoProcess = errors.New("no such process")

// Host is the agent as its API reads and changes it.
type Host interface {
	// VMs are the watched VMs, sorted by id.
	VMs() []VM
	// VM is the VM id, false when none has it.
	VM(id string) (VM, bool)
	// Attach attaches or updates a VM and reports whether it is new; its
	// httpapi.Error is the answer's status and message.
	Attach(cfg wire.VMConfig) (info wire.VMInfo, created bool, err error)
	// Detach removes what Attach added: false when no VM has id,
	// ErrDiscovered for a VM only discovery found.
	Detach(id string) (bool, error)
	// ProcessStats are one process's figures; ErrNoProcess (wrapped) when
	// it does not live.
	ProcessStats(pid int) (wire.ProcessStats, error)
	// Samples is every VM's latest figures, with the exits and id clashes.
	Samples(now time.Time) wire.HostSamples
	// Clashes counts the processes that reported an id another one holds.
	Clashes() uint64
}

// VM is one watched VM. Nothing here reads /proc or waits, but GuestProm.
type VM interface {
	ID() string
	PID() int // 0: none known
	Info() wire.VMInfo
	Stats() wire.VMStats
	// VCPUs is Firecracker's vcpu_count when its API told it, else the live
	// fc_vcpu threads of p (nil: none known, 0).
	VCPUs(p *wire.ProcessStats) int
	// GuestProm is the guest agent's Prometheus text; an error when the VM
	// has no guest agent to ask or it did not answer.
	GuestProm(ctx context.Context) ([]byte, error)
}

// Options are what the API needs beside its Host.
type Options struct {
	Host     Host
	Token    string           // bearer token every endpoint but /health needs; empty: none
	Hosts    *netpolicy.Hosts // the Host header values that name this agent
	Interval time.Duration    // the sampling interval; bounds a guest scrape
	Log      *slog.Logger
}

// api serves Options.
type api struct {
	Options
}

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
func Handler(o Options) http.Handler {
	a := &api{o}
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
	return httpapi.CheckHost(a.Hosts, a.writeError, mux)
}

func notFound(w http.ResponseWriter, r *http.Request) error {
	return httpapi.Errorf(http.StatusNotFound, "no endpoint %s", r.URL.Path)
}

func (a *api) health(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("OK"))
	return err
}

// processStats answers GET /metrics/process-stats?pid=N from the tracker:
// 400 for a missing or malformed pid, 404 when no such process lives.
func (a *api) processStats(w http.ResponseWriter, r *http.Request) error {
	pid, err := parsePID(r)
	if err != nil {
		return err
	}
	st, err := a.Host.ProcessStats(pid)
	switch {
	case errors.Is(err, ErrNoProcess):
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
	if err != nil || pid < 1 || pid > MaxPID || s[0] == '+' {
		return 0, badRequest("pid %q is not a process id (an integer from 1 to %d)", s, MaxPID)
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

func (a *api) listVMs(w http.ResponseWriter, r *http.Request) error {
	vms := a.Host.VMs()
	out := make([]wire.VMInfo, len(vms))
	for i, v := range vms {
		out[i] = v.Info()
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *api) attachVM(w http.ResponseWriter, r *http.Request) error {
	var cfg wire.VMConfig
	if err := decodeBody(w, r, &cfg); err != nil {
		return err
	}
	info, created, err := a.Host.Attach(cfg)
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

func (a *api) vmFromPath(r *http.Request) (VM, error) {
	id := r.PathValue("id")
	v, ok := a.Host.VM(id)
	if !ok {
		return nil, httpapi.Errorf(http.StatusNotFound, "no VM %q is attached", id)
	}
	return v, nil
}

func (a *api) getVM(w http.ResponseWriter, r *http.Request) error {
	v, err := a.vmFromPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v.Info())
}

func (a *api) detachVM(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ok, err := a.Host.Detach(id)
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

func (a *api) vmStats(w http.ResponseWriter, r *http.Request) error {
	v, err := a.vmFromPath(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v.Stats())
}

// promHandler serves the agent's registry (see prom.go).
func (a *api) promHandler() handler {
	h := promhttp.HandlerFor(prometheus.Gatherers{a.registry(), guestGatherer{a}}, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{a.Log},
		ErrorHandling: promhttp.ContinueOnError,
	})
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}
