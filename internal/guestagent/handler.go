package guestagent

import (
	"strings"

	"github.com/fcmon/fcmon/internal/core/bearer"
	"github.com/fcmon/fcmon/internal/guestagent/httpd"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
	"github.com/fcmon/fcmon/internal/guestagent/sampler"
)

const jsonType = "application/json"

// handler routes the agent's two endpoints. Everything is answered from the
// sampler's latest snapshot; nothing here reads the kernel.
type handler struct {
	sampler *sampler.Sampler
	token   string // empty: /metrics is open
}

var okBody = []byte("OK")

func (h *handler) serve(r *httpd.Request) httpd.Response {
	switch r.Path {
	case "/health":
		return httpd.Response{ContentType: "text/plain; charset=utf-8", Body: okBody}
	case "/metrics":
		return h.metrics(r)
	}
	return httpd.Error(404, "no such endpoint "+quotePath(r.Path)+"; the agent serves /metrics and /health")
}

func (h *handler) metrics(r *httpd.Request) httpd.Response {
	if h.token != "" && !h.authorized(r.Authorization) {
		resp := httpd.Error(401, "missing or wrong bearer token")
		resp.Header = [][2]string{{"WWW-Authenticate", `Bearer realm="guest-agent"`}}
		return resp
	}
	prom, err := wantsPrometheus(r)
	if err != "" {
		return httpd.Error(400, err)
	}
	snap := h.sampler.Latest()
	if snap == nil {
		return httpd.Error(503, "no sample yet")
	}
	if prom {
		return httpd.Response{ContentType: promtext.ContentType, Body: snap.Prom, Header: varyAccept}
	}
	return httpd.Response{ContentType: jsonType, Body: snap.JSON, Header: varyAccept}
}

var varyAccept = [][2]string{{"Vary", "Accept"}}

// wantsPrometheus applies ?format= first, then the Accept header: the text
// format when text/plain or OpenMetrics ranks above JSON, as Prometheus's
// scrape header makes it; JSON on ties, so curl's */* gets JSON.
func wantsPrometheus(r *httpd.Request) (bool, string) {
	if f, ok := r.Query("format"); ok {
		switch f {
		case "prometheus", "text":
			return true, ""
		case "json":
			return false, ""
		}
		return false, "unknown format " + quotePath(f) + "; use format=json or format=prometheus"
	}
	if r.Accept == "" {
		return false, ""
	}
	t := httpd.PreferredType(r.Accept, jsonType, "text/plain", "application/openmetrics-text")
	return t == "text/plain" || t == "application/openmetrics-text", ""
}

func (h *handler) authorized(header string) bool {
	return bearer.Check(header, h.token)
}

// quotePath quotes s for an error message, shortened so a huge request line
// does not come back whole.
func quotePath(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
