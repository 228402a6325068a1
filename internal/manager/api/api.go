// Package api is the manager's HTTP API: the REST calls of docs/api.md over the
// VM registry, the latest and past samples, the WebSocket streams, the
// Prometheus export and the health check. It validates every input before
// anything is stored and renders every error as {"error": "..."}.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/agentclient"
	"github.com/fcmon/fcmon/internal/manager/store"
	"github.com/fcmon/fcmon/internal/manager/ui"
)

// Samples gives the newest sample of a VM (the collector's Latest).
type Samples interface {
	// Latest returns the VM's newest sample, false when there is none yet.
	Latest(vmID string) (wire.CombinedSample, bool)
}

// History answers GET /v1/vms/{id}/metrics/history. Query gets the
// integers the request gave (checked by the API: Unix ms of this era, and
// a non-negative step), 0 for each one it left out (the history applies its
// defaults then); a returned httpapi.Error (a 400 for a range it refuses)
// is rendered as is, any other error as a 500.
type History interface {
	Query(ctx context.Context, vmID string, sinceMs, untilMs, stepMs int64) (wire.History, error)
}

// Streams serves the WebSocket endpoints once the request is authorized
// and the VM known (the hub).
type Streams interface {
	ServeVM(w http.ResponseWriter, r *http.Request, vmID string)
	ServeAll(w http.ResponseWriter, r *http.Request)
	// ServeFleet is the fleet stream: summaries, events, and the samples
	// of the VMs the client asks for.
	ServeFleet(w http.ResponseWriter, r *http.Request)
}

// Cache is the manager's in-memory copy of the registry. While the
// database does not answer, reads of VMs come from it, so live samples
// keep being served.
type Cache interface {
	// CachedVM returns the VM with id as last read from the database.
	CachedVM(id string) (store.VM, bool)
	// CachedVMs returns every VM as last read, sorted by name then id.
	CachedVMs() []store.VM
	// CurrentVMs is CachedVMs read again first when a write went through
	// this manager since (the cache itself when the database does not
	// answer). The slice is shared: callers must not modify it.
	CurrentVMs(ctx context.Context) ([]store.VM, error)
}

// Cluster is the managers sharing this one's database, as the API reads
// them (the manager's cluster package).
type Cluster interface {
	// View is GET /v1/cluster.
	View() wire.Cluster
	// Shared reports whether other managers may share the database; when
	// not, this manager answers for every VM and asks nobody.
	Shared() bool
	// Owns and AskOthers make the fleet-wide answers (GET /v1/fleet, the
	// pages of GET /v1/vms, the fleet stream's summary) whole: each
	// manager answers for the VMs it Owns (one manager for each VM), and
	// asks the others (AskOthers, with PeerHeader) for theirs, getting the
	// bodies of the 200 answers and the names of the managers that gave
	// none.
	Owns(vm *store.VM) bool
	AskOthers(ctx context.Context, path string) (bodies [][]byte, missing []string)
	// Peer asks the manager collecting hostID for path of its API (a VM's
	// latest sample or history) and returns the body of a 200 answer.
	Peer(ctx context.Context, hostID, path string) ([]byte, bool)
	// VerifyPeer reports whether a request's PeerHeader is another
	// manager's signature; a request whose header does not verify gets a
	// 403.
	VerifyPeer(header string) bool
}

// Options configures the API. Store is required; a nil History, Streams or
// Metrics makes its endpoint answer 503.
type Options struct {
	Store store.Store
	// Cache answers reads of the registry while the database is
	// unavailable; nil means such reads fail with 503.
	Cache   Cache
	Samples Samples
	History History
	Streams Streams
	Metrics http.Handler // GET /metrics
	// Forget drops a deleted VM's live state (collector, history). It is
	// called after the VM left the store.
	Forget func(vmID string)
	// HostAgents attaches registered VMs to their host agent; nil skips it.
	HostAgents *agentclient.HostAgents
	// HostView shows a host agent with how collecting it goes; nil shows
	// what is stored only.
	HostView func(store.Host) wire.Host
	// Cluster is the managers sharing the database; nil: this one is
	// alone (GET /v1/cluster answers 503, no request passes for a peer's).
	Cluster Cluster
	// Token, when set, is the bearer token every /v1 call and /metrics
	// require.
	Token string
	// GuestAllow lists the networks guest_ip may lie in; HostAgentAllow
	// those host_agent_url may name (or resolve to).
	GuestAllow, HostAgentAllow netpolicy.List
	// Resolve looks up host names of host_agent_url; nil means the
	// system's resolver.
	Resolve netpolicy.Resolver
	// Hosts is the Host-header policy (421 for others) and the origins
	// whose pages may open streams; nil means loopback names only.
	Hosts *netpolicy.Hosts
	// AllowedOrigin reports whether a web origin's host:port, not this
	// manager's, may open streams (--allowed-origins); nil means none.
	AllowedOrigin func(host string) bool
	Logger        *slog.Logger
	Now           func() time.Time // default time.Now
}

// API is the manager's HTTP API. Create it with New.
type API struct {
	opt   Options
	log   *slog.Logger
	hosts *netpolicy.Hosts
}

// New returns the API over opt.
func New(opt Options) *API {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Forget == nil {
		opt.Forget = func(string) {}
	}
	hosts := opt.Hosts
	if hosts == nil {
		hosts, _ = netpolicy.NewHosts("127.0.0.1:0", nil)
	}
	return &API{opt: opt, log: opt.Logger, hosts: hosts}
}

// shared reports whether other managers share the database: fleet-wide
// answers then take in theirs.
func (a *API) shared() bool { return a.opt.Cluster != nil && a.opt.Cluster.Shared() }

// Handler returns the routes:
//
//	GET    /                                 the web UI (package ui)
//	GET    /ui/...                           the UI's scripts and styles
//	GET    /healthz                          "OK" when the database answers, else 503
//	GET    /metrics                          Prometheus text for every VM
//	GET    /v1/vms · POST /v1/vms            list · register (201)
//	GET    /v1/vms/{id} · DELETE             one VM · remove it and its history (204)
//	POST   /v1/vms/{id}/guest-ip             set the guest agent's address (200)
//	GET    /v1/vms/{id}/metrics              latest combined sample
//	GET    /v1/vms/{id}/metrics/history      samples over ?since=&until=&step= (Unix ms)
//	GET    /v1/vms/{id}/metrics/ws           WebSocket: that VM's samples
//	GET    /v1/metrics/ws                    WebSocket: every VM's samples
//	GET    /v1/vms?q=&source=&state=&host=&sort=&order=&limit=&offset=  one page of the matching VMs
//	GET    /v1/fleet                         counts by state and source, top VMs, host agents
//	GET    /v1/cluster                       the managers sharing the database and the host agents each collects
//	GET    /v1/cluster/latest?ids=           the latest samples of those VMs this manager collects
//	GET    /v1/prometheus/sd                 Prometheus HTTP service discovery: host agents, direct guests
//	GET    /v1/fleet/ws                      WebSocket: fleet summaries, events, the watched VMs' samples
//	GET    /v1/events · /v1/vms/{id}/events  events, newest first: ?vm_id=&type=&since=&until=&limit=
//	GET    /v1/hosts · POST /v1/hosts        host agents: list · add one (201)
//	GET    /v1/hosts/{id} · DELETE           one host agent · stop collecting it (204)
//
// With a token, everything under /v1 and /metrics needs it; /, /ui/ and
// /healthz stay open (the page asks for the token itself). A request whose
// Host does not name this manager gets 421 (the DNS-rebinding defence).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	auth, wsAuth := a.requireToken, a.requireStream
	page := a.serve(methods{"GET": serveUI(ui.Handler())})
	mux.Handle("/{$}", page)
	mux.Handle(ui.Prefix, page)
	mux.Handle("/healthz", a.serve(methods{"GET": a.health}))
	mux.Handle("/metrics", auth(a.serve(methods{"GET": a.metrics})))
	mux.Handle("/v1/vms", auth(a.serve(methods{"GET": a.listVMs, "POST": a.createVM})))
	mux.Handle("/v1/vms/{id}", auth(a.serve(methods{"GET": a.getVM, "DELETE": a.deleteVM})))
	mux.Handle("/v1/vms/{id}/guest-ip", auth(a.serve(methods{"POST": a.setGuestIP})))
	mux.Handle("/v1/vms/{id}/metrics", auth(a.serve(methods{"GET": a.latest})))
	mux.Handle("/v1/vms/{id}/metrics/history", auth(a.serve(methods{"GET": a.history})))
	mux.Handle("/v1/vms/{id}/metrics/ws", wsAuth(a.serveStream(methods{"GET": a.streamVM})))
	mux.Handle("/v1/metrics/ws", wsAuth(a.serveStream(methods{"GET": a.streamAll})))
	mux.Handle("/v1/cluster", auth(a.serve(methods{"GET": a.cluster})))
	mux.Handle("/v1/cluster/latest", auth(a.serve(methods{"GET": a.clusterLatest})))
	mux.Handle("/v1/prometheus/sd", auth(a.serve(methods{"GET": a.prometheusSD})))
	mux.Handle("/v1/fleet", auth(a.serve(methods{"GET": a.fleet})))
	mux.Handle("/v1/fleet/ws", wsAuth(a.serveStream(methods{"GET": a.streamFleet})))
	mux.Handle("/v1/events", auth(a.serve(methods{"GET": a.listEvents})))
	mux.Handle("/v1/vms/{id}/events", auth(a.serve(methods{"GET": a.vmEvents})))
	mux.Handle("/v1/hosts", auth(a.serve(methods{"GET": a.listHosts, "POST": a.createHost})))
	mux.Handle("/v1/hosts/{id}", auth(a.serve(methods{"GET": a.getHost, "DELETE": a.deleteHost})))
	mux.Handle("/v1/", auth(a.serve(notFoundMethods)))
	mux.Handle("/", a.serve(notFoundMethods))
	return httpapi.CheckHost(a.hosts, a.writeError, a.checkPeer(mux))
}

// checkPeer refuses a request whose PeerHeader is not another manager's
// signature: it would be answered as a peer's (this manager's part only,
// deeper pages).
func (a *API) checkPeer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Values(PeerHeader); len(v) > 0 && (len(v) > 1 || a.opt.Cluster == nil || !a.opt.Cluster.VerifyPeer(v[0])) {
			a.writeError(w, r, httpapi.Errorf(http.StatusForbidden,
				"%s is for the managers sharing this one's database, signed with its secret; this request's does not verify", PeerHeader))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveUI adapts the UI's handler, which renders its own 404s.
func serveUI(h http.Handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}

var notFoundMethods = methods{"GET": notFound, "POST": notFound, "PUT": notFound, "DELETE": notFound, "PATCH": notFound}
