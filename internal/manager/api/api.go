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
	"github.com/fcmon/fcmon/internal/core/labels"
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/access"
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
	// ServeAll streams the samples and events of the VMs keep takes (nil:
	// all).
	ServeAll(w http.ResponseWriter, r *http.Request, keep func(vmID string) bool)
	// ServeFleet is the fleet stream: the summaries of the VMs sel picks,
	// their events, and the samples of those the client asks for that
	// keep takes.
	ServeFleet(w http.ResponseWriter, r *http.Request, sel labels.Selector, keep func(vmID string) bool)
}

// Metrics serves the Prometheus export (package export): every series,
// or with keep set only the series of the VMs it takes.
type Metrics interface {
	ServeMetrics(w http.ResponseWriter, r *http.Request, keep func(vmID string) bool)
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
	// LabelsOf returns the merged labels of the VM with id as last read,
	// false for an unknown id; cheap enough to call for every sample.
	LabelsOf(id string) (labels.Set, bool)
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
	Metrics Metrics // GET /metrics
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
	// Keys are the credentials and their roles; nil means Token alone.
	Keys *access.Keys
	// Token, when set and Keys is nil, is the one admin token every /v1
	// call and /metrics require.
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
	// PrometheusLabels are the VM labels copied onto each series and SD
	// target (--prometheus-labels); every label is on fcmon_vm_info.
	PrometheusLabels []string
	// PollInterval is the collector's: a minute's rollup covers its
	// samples times it (GET /v1/usage); zero reads as 1 s.
	PollInterval time.Duration
	Logger       *slog.Logger
	Now          func() time.Time // default time.Now
}

// API is the manager's HTTP API. Create it with New.
type API struct {
	opt   Options
	log   *slog.Logger
	hosts *netpolicy.Hosts
	keys  *access.Keys
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
	keys := opt.Keys
	if keys == nil {
		keys, _ = access.New(access.Options{AdminToken: opt.Token}) // cannot fail without a file
	}
	return &API{opt: opt, log: opt.Logger, hosts: hosts, keys: keys}
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
//	GET    /v1/vms/{id} · DELETE · PATCH     one VM · remove it and its history (204) · set its labels
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
//	GET    /v1/usage                         vCPU- and GiB-seconds per VM or label value: ?since=&until=&group_by=&format=
//	GET    /v1/whoami                        the caller's credential: name and role
//
// With credentials, everything under /v1 and /metrics needs one whose role
// allows it (see routes); /, /ui/ and /healthz stay open (the page asks for
// the token itself). A request whose
// Host does not name this manager gets 421 (the DNS-rebinding defence).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	page := a.serve(methods{"GET": serveUI(ui.Handler())})
	mux.Handle("/{$}", page)
	mux.Handle(ui.Prefix, page)
	mux.Handle("/healthz", a.serve(methods{"GET": a.health}))
	for _, rt := range a.routes() {
		for m := range rt.methods {
			if _, ok := rt.roles[m]; !ok {
				panic("api: " + m + " " + rt.pattern + " has no role") // every endpoint names who may call it
			}
		}
		if _, reads := rt.methods["GET"]; reads && rt.scope == scopeNone {
			panic("api: GET " + rt.pattern + " does not say how a scoped token reads it")
		}
		h := a.serve(rt.methods)
		if rt.stream {
			h = a.serveStream(rt.methods)
		}
		mux.Handle(rt.pattern, a.authorize(rt, h))
	}
	mux.Handle("/", a.serve(notFoundMethods))
	return httpapi.CheckHost(a.hosts, a.writeError, a.checkPeer(mux))
}

// Routes lists every endpoint behind a credential with the role it needs.
func (a *API) Routes() []RouteRole {
	var out []RouteRole
	for _, rt := range a.routes() {
		for m, role := range rt.roles {
			out = append(out, RouteRole{Pattern: rt.pattern, Method: m, Role: role, Stream: rt.stream,
				Scoped: m == "GET" && rt.scope == scopeFiltered, ScopeRefused: m == "GET" && rt.scope == scopeRefused})
		}
	}
	return out
}

// routes are the endpoints behind a credential: GETs and the streams need
// read, writes admin, setting a guest's address register (which a VM's own
// registration credential may do for that VM).
func (a *API) routes() []route {
	read, admin, register := access.Read, access.Admin, access.Register
	r := func(pattern string, m methods, roles map[string]access.Role, sc scope) route {
		return route{pattern: pattern, methods: m, roles: roles, scope: sc}
	}
	stream := func(pattern string, h handler) route {
		return route{pattern: pattern, methods: methods{"GET": h}, roles: map[string]access.Role{"GET": read}, stream: true, scope: scopeFiltered}
	}
	get := func(pattern string, h handler, sc scope) route {
		return r(pattern, methods{"GET": h}, map[string]access.Role{"GET": read}, sc)
	}
	filtered, refused := scopeFiltered, scopeRefused
	return []route{
		get("/metrics", a.metrics, filtered),
		r("/v1/vms", methods{"GET": a.listVMs, "POST": a.createVM}, map[string]access.Role{"GET": read, "POST": admin}, filtered),
		r("/v1/vms/{id}", methods{"GET": a.getVM, "DELETE": a.deleteVM, "PATCH": a.patchVM},
			map[string]access.Role{"GET": read, "DELETE": admin, "PATCH": admin}, filtered),
		r("/v1/vms/{id}/guest-ip", methods{"POST": a.setGuestIP}, map[string]access.Role{"POST": register}, scopeNone),
		get("/v1/vms/{id}/metrics", a.latest, filtered),
		get("/v1/vms/{id}/metrics/history", a.history, filtered),
		stream("/v1/vms/{id}/metrics/ws", a.streamVM),
		stream("/v1/metrics/ws", a.streamAll),
		get("/v1/cluster", a.cluster, refused),
		get("/v1/cluster/latest", a.clusterLatest, refused),
		get("/v1/prometheus/sd", a.prometheusSD, filtered),
		get("/v1/fleet", a.fleet, filtered),
		stream("/v1/fleet/ws", a.streamFleet),
		get("/v1/events", a.listEvents, filtered),
		get("/v1/usage", a.usage, filtered),
		get("/v1/vms/{id}/events", a.vmEvents, filtered),
		r("/v1/hosts", methods{"GET": a.listHosts, "POST": a.createHost}, map[string]access.Role{"GET": read, "POST": admin}, refused),
		r("/v1/hosts/{id}", methods{"GET": a.getHost, "DELETE": a.deleteHost}, map[string]access.Role{"GET": read, "DELETE": admin}, refused),
		r("/v1/whoami", methods{"GET": a.whoami}, map[string]access.Role{"GET": access.Anyone}, scopeAny),
		// Unknown paths below /v1 need a credential too: what exists is
		// not told to strangers.
		r("/v1/", notFoundMethods, map[string]access.Role{"GET": read, "POST": read, "PUT": read, "DELETE": read, "PATCH": read}, scopeAny),
	}
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
