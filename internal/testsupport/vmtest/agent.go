package vmtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxBody bounds what Get reads from the guest.
const maxBody = 8 << 20

// Get fetches path (such as "/metrics") from the guest's forwarded port and returns the
// body of a 200 response; any other status is an error carrying the body.
func (vm *VM) Get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, vm.AgentURL()+path, nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// WaitAgent polls GET /health on the forwarded port until it answers 200 with body OK,
// or ctx ends. Without a deadline in ctx it waits at most 30 s.
func (vm *VM) WaitAgent(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	var lastErr error
	for {
		body, err := vm.Get(ctx, "/health")
		if err == nil && strings.TrimSpace(string(body)) == "OK" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("/health answered %q, expected OK", body)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("guest agent not healthy at %s: %w", vm.AgentURL(), lastErr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
