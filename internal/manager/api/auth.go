package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/fcmon/fcmon/internal/core/bearer"
	"github.com/fcmon/fcmon/internal/core/httpapi"
	"github.com/fcmon/fcmon/internal/manager/access"
)

// subprotocolPrefix marks the token among a WebSocket client's offered
// subprotocols: browsers cannot set Authorization on a WebSocket, but they
// can offer "bearer.<token>" in Sec-WebSocket-Protocol.
const subprotocolPrefix = "bearer."

// route is one path of the API: its handlers by method, the role each
// needs, and whether it is a stream.
type route struct {
	pattern string
	methods methods
	roles   map[string]access.Role
	stream  bool
	// scope is how its GET honours a scoped token.
	scope scope
}

// RouteRole is one endpoint and the role it needs, as Routes lists them.
type RouteRole struct {
	Pattern, Method string
	Role            access.Role
	Stream          bool
	// Scoped: a scoped token gets only its VMs (GETs); ScopeRefused: a
	// scoped token gets a 403.
	Scoped, ScopeRefused bool
}

// identityKey carries the request's Identity in its context.
type identityKey struct{}

// caller returns who made r ("" role when the API is open).
func caller(r *http.Request) access.Identity {
	id, _ := r.Context().Value(identityKey{}).(access.Identity)
	return id
}

// authorize wraps a route's handler: with credentials configured, a
// request needs one (401 without, or with an unknown one) whose role
// allows the method (403 naming the role needed). A registration
// credential sets its own VM's address only. A request another manager
// signed (PeerHeader, verified before this) reads as "peer". Streams also
// take the token as ?token= or a "bearer.<token>" subprotocol, removed
// before the stream sees the request, and end when a reload removes the
// token that opened them. Every write is logged with the credential's name.
func (a *API) authorize(rt route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.stream && !httpapi.OriginAllowed(r, a.hosts, a.opt.AllowedOrigin) {
			a.writeError(w, r, httpapi.Errorf(http.StatusForbidden,
				"Origin %q may not open a stream; the manager's --allowed-origins lists other sites' origins that may", r.Header.Get("Origin")))
			return
		}
		need, known := rt.roles[r.Method]
		if !known {
			need = access.Anyone // the handler answers 405
		}
		if a.keys.Open() && !(need == access.Register && a.keys.Registration()) {
			next.ServeHTTP(w, r)
			return
		}
		token := bearer.FromHeader(r.Header.Get("Authorization"))
		if rt.stream {
			r = r.Clone(r.Context())
			query := r.URL.Query()
			if query.Has("token") {
				if t := query.Get("token"); token == "" {
					token = t
				}
				query.Del("token")
				r.URL.RawQuery = query.Encode()
			}
			if t := stripTokenProtocol(r.Header); token == "" {
				token = t
			}
		}
		id, ok := a.keys.Lookup(token)
		if !ok && len(r.Header.Values(PeerHeader)) == 1 { // checkPeer verified it
			id, ok = access.Identity{Name: "peer", Role: access.Read}, true
		}
		if !ok {
			from := "--api-token or --tokens-file"
			if need == access.Register && a.keys.Registration() {
				from = "--tokens-file, or the VM's registration credential from manager registration-token"
			}
			httpapi.Unauthorized(w, r, "manager", from, a.writeError)
			return
		}
		if err := allowed(id, need, r); err != nil {
			a.log.Warn("API call refused", "by", id.Name, "role", id.Role, "method", r.Method, "path", r.URL.Path)
			a.writeError(w, r, err)
			return
		}
		if rt.scope == scopeRefused && !id.Scope.Empty() {
			a.writeError(w, r, refuseScoped(id, r))
			return
		}
		ctx := context.WithValue(r.Context(), identityKey{}, id)
		if rt.stream {
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			defer a.keys.Track(id, cancel)()
		}
		r = r.WithContext(ctx)
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		a.log.Info("API write", "by", id.Name, "role", id.Role, "method", r.Method, "path", r.URL.Path, "status", sw.status)
	})
}

// allowed checks id's role against need: nil, or the 403 to answer.
func allowed(id access.Identity, need access.Role, r *http.Request) error {
	if id.Role == access.Guest {
		vm := strings.ToLower(r.PathValue("id"))
		if need != access.Register {
			return httpapi.Errorf(http.StatusForbidden,
				"a registration credential (of VM %s) may only set that VM's guest address (POST /v1/vms/%s/guest-ip)", id.VMID, id.VMID)
		}
		if vm != id.VMID {
			return httpapi.Errorf(http.StatusForbidden,
				"this registration credential is VM %s's; it may not register VM %s", id.VMID, clipID(vm))
		}
		return nil
	}
	if !id.Role.Allows(need) {
		return httpapi.Errorf(http.StatusForbidden, "%s %s needs the %s role; token %q has %s", r.Method, r.URL.Path, need, id.Name, id.Role)
	}
	return nil
}

func clipID(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stripTokenProtocol removes every "bearer.<token>" entry from the
// Sec-WebSocket-Protocol header and returns the last token found.
func stripTokenProtocol(h http.Header) string {
	var token string
	var keep []string
	for _, line := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(line, ",") {
			p = strings.TrimSpace(p)
			if t, ok := strings.CutPrefix(p, subprotocolPrefix); ok {
				token = t
			} else if p != "" {
				keep = append(keep, p)
			}
		}
	}
	h.Del("Sec-WebSocket-Protocol")
	if len(keep) > 0 {
		h.Set("Sec-WebSocket-Protocol", strings.Join(keep, ", "))
	}
	return token
}

// whoami answers who the caller is: its name and role (GET /v1/whoami),
// so a page can offer only what the token may do.
func (a *API) whoami(w http.ResponseWriter, r *http.Request) error {
	id := caller(r)
	role := id.Role
	if a.keys.Open() {
		role, id.Name = access.Admin, "" // an open API: everything
	}
	who := map[string]string{"name": id.Name, "role": string(role)}
	if !id.Scope.Empty() {
		who["scope"] = id.Scope.String()
	}
	return writeJSON(w, http.StatusOK, who)
}
