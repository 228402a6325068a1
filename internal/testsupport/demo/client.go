package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// Client talks to a manager's API.
type Client struct {
	// Base is the manager's base URL, e.g. http://127.0.0.1:8080.
	Base string
	HTTP *http.Client
}

// NewClient returns a client of the manager at base with a short timeout.
func NewClient(base string) *Client {
	return &Client{Base: base, HTTP: &http.Client{Timeout: 5 * time.Second}}
}

// VM is the registration of a demo VM.
type VM struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	HostAgentURL string `json:"host_agent_url,omitempty"`
	VMMPID       int    `json:"vmm_pid,omitempty"`
}

// Do makes one request with a JSON body (nil for none) and decodes a JSON answer
// into out (nil to ignore it). A status other than want is an error carrying the
// manager's message.
func (c *Client) Do(ctx context.Context, method, path string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return &StatusError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(data)), Call: method + " " + path}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding %q: %w", method, path, data, err)
		}
	}
	return nil
}

// StatusError is an answer with an unexpected status.
type StatusError struct {
	Call   string
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: status %d: %s", e.Call, e.Status, e.Body)
}

// Register registers vm, replacing a registration of the same id left by an
// earlier run (its VMM pid is out of date).
func (c *Client) Register(ctx context.Context, vm VM) error {
	err := c.Do(ctx, "POST", "/v1/vms", vm, nil, http.StatusCreated)
	if se := (*StatusError)(nil); errors.As(err, &se) && se.Status == http.StatusConflict {
		if err := c.Do(ctx, "DELETE", "/v1/vms/"+vm.ID, nil, nil, http.StatusNoContent); err != nil {
			return err
		}
		err = c.Do(ctx, "POST", "/v1/vms", vm, nil, http.StatusCreated)
	}
	return err
}

// Latest returns the VM's latest combined sample.
func (c *Client) Latest(ctx context.Context, id string) (wire.CombinedSample, error) {
	var s wire.CombinedSample
	err := c.Do(ctx, "GET", "/v1/vms/"+id+"/metrics", nil, &s, http.StatusOK)
	return s, err
}

// WaitFor polls the VM's latest sample every 250 ms until ok holds or ctx ends,
// and returns the last sample seen.
func (c *Client) WaitFor(ctx context.Context, id string, ok func(wire.CombinedSample) bool) (wire.CombinedSample, error) {
	var last wire.CombinedSample
	var lastErr error
	for {
		s, err := c.Latest(ctx, id)
		if err == nil {
			if ok(s) {
				return s, nil
			}
			last = s
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("%w (last error: %w)", ctx.Err(), lastErr)
			}
			return last, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// WaitForName polls GET /v1/vms every 250 ms until a VM of that name that
// a host agent reports (host_id set, not gone) is listed, and returns its
// id.
func (c *Client) WaitForName(ctx context.Context, name string) (string, error) {
	for {
		var vms []wire.VM
		if err := c.Do(ctx, "GET", "/v1/vms", nil, &vms, http.StatusOK); err == nil {
			for _, vm := range vms {
				if vm.Name == name && vm.HostID != "" && vm.GoneMs == 0 {
					return vm.ID, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
