package agentclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/samplepb"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// Options configure a HostAgents client.
type Options struct {
	// Allow lists the networks host agents may be in; every connection is
	// checked against it when dialled.
	Allow netpolicy.List
	// Token is sent as a bearer token (the host agents' --token-file);
	// it goes only to allowed addresses, as nothing else is ever dialled.
	Token string
	// TLS configures https:// host agents (a CA of choice, a client
	// certificate); nil means Go's defaults.
	TLS *tls.Config
	// Timeout bounds each request; default 3s.
	Timeout time.Duration
	// MaxBody caps an answer; default 1 MiB.
	MaxBody int64
	// MaxIdlePerHost is how many kept-alive connections one host agent
	// keeps; default 64.
	MaxIdlePerHost int
}

// HostAgents makes every request the manager sends to host agents. It is
// safe for concurrent use.
type HostAgents struct {
	opt    Options
	client *http.Client
}

// NewHostAgents returns the client. It uses no proxy and follows no
// redirect: the address is the operator's, not a redirect's.
func NewHostAgents(o Options) *HostAgents {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	if o.MaxIdlePerHost <= 0 {
		o.MaxIdlePerHost = 64
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           Dialer(o.Allow, o.Timeout).DialContext,
		TLSClientConfig:       o.TLS,
		ForceAttemptHTTP2:     o.TLS != nil,
		MaxIdleConnsPerHost:   o.MaxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: o.Timeout,
		TLSHandshakeTimeout:   o.Timeout,
		// A host agent's answer heads are a few hundred bytes; net/http's
		// default allows 10 MB.
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &HostAgents{opt: o, client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Attach sends POST {base}/v1/vms with the VM's sources.
func (h *HostAgents) Attach(ctx context.Context, base string, cfg wire.VMConfig) *Error {
	body, err := json.Marshal(cfg)
	if err != nil {
		return Failf(ReasonBadTarget, "encoding the attach request: %v", err)
	}
	_, e := h.Do(ctx, http.MethodPost, base, "/v1/vms", body)
	return e
}

// Detach sends DELETE {base}/v1/vms/{id}; a VM the host agent does not know
// counts as detached.
func (h *HostAgents) Detach(ctx context.Context, base, id string) *Error {
	_, e := h.Do(ctx, http.MethodDelete, base, "/v1/vms/"+url.PathEscape(id), nil)
	if e != nil && e.Reason == ReasonHTTPStatus && e.Status == http.StatusNotFound {
		return nil
	}
	return e
}

// ProcessStats asks GET {base}/metrics/process-stats?pid=.
func (h *HostAgents) ProcessStats(ctx context.Context, base string, pid int) (*wire.ProcessStats, *Error) {
	var p wire.ProcessStats
	if e := h.Get(ctx, base, "/metrics/process-stats?pid="+strconv.Itoa(pid), &p); e != nil {
		return nil, e
	}
	return &p, nil
}

// VMStats asks GET {base}/v1/vms/{id}/stats.
func (h *HostAgents) VMStats(ctx context.Context, base, id string) (*wire.VMStats, *Error) {
	var st wire.VMStats
	if e := h.Get(ctx, base, "/v1/vms/"+url.PathEscape(id)+"/stats", &st); e != nil {
		return nil, e
	}
	return &st, nil
}

// MaxSamplesBody caps an answer of GET /v1/samples: JSON for a few
// thousand VMs (about 3.3 KB each) fits; the dense encoding is a tenth.
const MaxSamplesBody = 32 << 20

// Samples asks GET {base}/v1/samples, preferring the dense encoding, and
// reads the answer into buf (reset first, so one buffer serves every
// round). It returns whether the answer is dense (else JSON).
func (h *HostAgents) Samples(ctx context.Context, base string, buf *bytes.Buffer) (dense bool, e *Error) {
	rctx, cancel := context.WithTimeout(ctx, h.opt.Timeout)
	defer cancel()
	u := base + "/v1/samples"
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return false, Failf(ReasonBadTarget, "GET %s: %v", u, err)
	}
	req.Header.Set("Accept", samplepb.MediaType+", application/json;q=0.5")
	req.Header.Set("User-Agent", "fcmon-manager")
	if h.opt.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.opt.Token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return false, Classify(ctx, err)
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, MaxSamplesBody+1)); err != nil {
		return false, Classify(ctx, err)
	}
	if buf.Len() > MaxSamplesBody {
		return false, Failf(ReasonTooLarge, "GET %s: body exceeds %d bytes", u, MaxSamplesBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return false, StatusError("GET "+u, resp.StatusCode, resp.Status, ErrorMessage(buf.Bytes()))
	}
	return resp.Header.Get("Content-Type") == samplepb.MediaType, nil
}

// Get asks GET {base}{path} and decodes the JSON answer into v.
func (h *HostAgents) Get(ctx context.Context, base, path string, v any) *Error {
	data, e := h.Do(ctx, http.MethodGet, base, path, nil)
	if e != nil {
		return e
	}
	return Decode(data, v)
}

// Do makes one request bounded by the timeout and returns the body of a 2xx
// answer.
func (h *HostAgents) Do(ctx context.Context, method, base, path string, body []byte) ([]byte, *Error) {
	rctx, cancel := context.WithTimeout(ctx, h.opt.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	u := base + path
	req, err := http.NewRequestWithContext(rctx, method, u, rd)
	if err != nil {
		return nil, Failf(ReasonBadTarget, "%s %s: %v", method, u, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "fcmon-manager")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.opt.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.opt.Token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // its "Get \"http://...\":" prefix repeats what callers say
		}
		return nil, Classify(ctx, err)
	}
	defer resp.Body.Close()
	// One byte beyond the cap tells an oversized body from one that fits.
	data, err := io.ReadAll(io.LimitReader(resp.Body, h.opt.MaxBody+1))
	if err != nil {
		return nil, Classify(ctx, err)
	}
	if int64(len(data)) > h.opt.MaxBody {
		return nil, Failf(ReasonTooLarge, "%s %s: body exceeds %d bytes", method, u, h.opt.MaxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, StatusError(method+" "+u, resp.StatusCode, resp.Status, ErrorMessage(data))
	}
	return data, nil
}

// ErrorMessage is the "error" field of an {"error": "..."} answer, "" when
// the body is not one.
func ErrorMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error
}

// Decode parses a JSON document into v, tolerating unknown fields (agents
// may be newer than the manager).
func Decode(data []byte, v any) *Error {
	if err := json.Unmarshal(data, v); err != nil {
		s := err.Error()
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		return Failf(ReasonBadJSON, "decoding: %s", s)
	}
	return nil
}
