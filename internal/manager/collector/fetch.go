package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Why a request failed, as PollResult.Reason says it.
const (
	ReasonTimeout    = "timeout"      // no complete answer within Options.Timeout
	ReasonRefused    = "refused"      // connection refused: nothing listens
	ReasonNetwork    = "network"      // any other connection failure
	ReasonHTTPStatus = "http_status"  // an answer other than 2xx (PollResult.Status says which)
	ReasonTooLarge   = "too_large"    // the body exceeded Options.MaxBody
	ReasonBadJSON    = "bad_json"     // not the JSON document expected
	ReasonOutOfRange = "out_of_range" // well-formed but impossible figures
	ReasonBadTarget  = "bad_target"   // the registry's address is unusable
	reasonCanceled   = "canceled"     // the collector is stopping: not reported
)

// pollError is a failed request with its Reason.
type pollError struct {
	reason string
	status int
	err    error
}

func (e *pollError) Error() string { return e.err.Error() }
func (e *pollError) Unwrap() error { return e.err }

func failf(reason string, format string, args ...any) *pollError {
	return &pollError{reason: reason, err: fmt.Errorf(format, args...)}
}

// request makes one HTTP request bounded by Options.Timeout and returns
// the body of a 2xx answer, read to at most Options.MaxBody bytes.
func (c *Collector) request(ctx context.Context, method, url, token string, body []byte) ([]byte, *pollError) {
	rctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, url, rd)
	if err != nil {
		return nil, failf(ReasonBadTarget, "building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "fcmon-manager")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer resp.Body.Close()
	// One byte beyond the cap tells an oversized body from one that fits.
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.opt.MaxBody+1))
	if err != nil {
		return nil, classify(ctx, fmt.Errorf("reading the body: %w", err))
	}
	if int64(len(data)) > c.opt.MaxBody {
		return nil, failf(ReasonTooLarge, "body exceeds %d bytes", c.opt.MaxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := failf(ReasonHTTPStatus, "%s %s: %s%s", method, url, resp.Status, errorMessage(data))
		e.status = resp.StatusCode
		return nil, e
	}
	return data, nil
}

// errorMessage extracts the {"error": "..."} of an error answer, shortened,
// for last_error and logs.
func errorMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return ""
	}
	if len(e.Error) > 200 {
		e.Error = e.Error[:200] + "…"
	}
	return ": " + e.Error
}

// classify names the reason of a transport error. A cancelled parent
// context means the collector is stopping, which is nobody's failure.
func classify(parent context.Context, err error) *pollError {
	var ne net.Error
	switch {
	case parent.Err() != nil:
		return &pollError{reason: reasonCanceled, err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &pollError{reason: ReasonTimeout, err: err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &pollError{reason: ReasonRefused, err: err}
	}
	return &pollError{reason: ReasonNetwork, err: err}
}

// decode parses a JSON document into v, tolerating unknown fields (agents
// may be newer than the manager) but nothing after the document.
func decode(data []byte, v any) *pollError {
	if err := json.Unmarshal(data, v); err != nil {
		return failf(ReasonBadJSON, "decoding: %v", shorten(err.Error()))
	}
	return nil
}

func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// report hands a request's outcome to OnPoll; requests cut short by
// shutdown are not reported.
func (w *worker) report(kind string, start time.Time, err *pollError) {
	if w.c.opt.OnPoll == nil || (err != nil && err.reason == reasonCanceled) {
		return
	}
	r := PollResult{VMID: w.id, Kind: kind, Latency: time.Since(start)}
	if err != nil {
		r.Reason, r.Status, r.Err = err.reason, err.status, err
	}
	w.c.opt.OnPoll(r)
}
