package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// attachTimeout bounds one request to a host agent made while a client
// waits for the answer.
const attachTimeout = 3 * time.Second

// AttachResult reports attaching a VM to its host agent.
type AttachResult struct {
	Attached bool   `json:"attached"`
	Error    string `json:"error,omitempty"` // why not, when Attached is false
}

// HostAgents makes the requests that tell a host agent which VMs to watch.
// Create it with NewHostAgents.
type HostAgents struct {
	client *http.Client
	token  string
}

// NewHostAgents returns a HostAgents that sends token (the host agents'
// --token-file; "" for none) as a bearer token. Its client uses no proxy
// and follows no redirects: the URL is the operator's, not a redirect's.
func NewHostAgents(token string) *HostAgents {
	return &HostAgents{token: token, client: &http.Client{
		Transport:     &http.Transport{Proxy: nil, ResponseHeaderTimeout: attachTimeout, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Attach sends POST {host_agent_url}/v1/vms with the VM's id, pid, metrics
// FIFO and API socket. It never fails the caller: the result says whether
// the host agent took the VM.
func (h *HostAgents) Attach(ctx context.Context, vm store.VM) AttachResult {
	body, err := json.Marshal(wire.VMConfig{ID: vm.ID, PID: vm.VMMPID, MetricsFIFO: vm.MetricsFIFO, APISocket: vm.APISocket})
	if err == nil {
		err = h.do(ctx, http.MethodPost, vm.HostAgentURL+"/v1/vms", body)
	}
	if err != nil {
		return AttachResult{Error: err.Error()}
	}
	return AttachResult{Attached: true}
}

// Detach sends DELETE {host_agent_url}/v1/vms/{id}; a VM the host agent
// does not know counts as detached.
func (h *HostAgents) Detach(ctx context.Context, vm store.VM) error {
	err := h.do(ctx, http.MethodDelete, vm.HostAgentURL+"/v1/vms/"+url.PathEscape(vm.ID), nil)
	if se, ok := err.(statusError); ok && se.status == http.StatusNotFound {
		return nil
	}
	return err
}

// statusError is a host agent's non-2xx answer.
type statusError struct {
	status  int
	message string
}

func (e statusError) Error() string {
	return fmt.Sprintf("host agent answered %d: %s", e.status, e.message)
}

func (h *HostAgents) do(ctx context.Context, method, u string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("host agent %s: %w", method, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		return statusError{resp.StatusCode, e.Error}
	}
	return nil
}

// unwrapURLError drops *url.Error's "Post "http://...":" prefix, which
// repeats what the caller already says.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
