// Package agentclient is how the manager talks to agents: the one client
// for host agents (attach, detach, process and VM stats), the dialer that
// connects only to addresses an allow-list permits, and the failure
// classes every request to a guest or host agent is reported by. A remote's
// answer never reaches an API caller: callers see a class (Public), logs a
// short sanitised excerpt (Error).
package agentclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/fcmon/fcmon/internal/core/netpolicy"
)

// Why a request failed.
const (
	ReasonTimeout    = "timeout"      // no complete answer in time
	ReasonRefused    = "refused"      // connection refused: nothing listens
	ReasonNetwork    = "network"      // any other connection failure
	ReasonHTTPStatus = "http_status"  // an answer other than 2xx (Error.Status says which)
	ReasonTooLarge   = "too_large"    // the body exceeded the size limit
	ReasonBadJSON    = "bad_json"     // not the JSON document expected
	ReasonOutOfRange = "out_of_range" // well-formed but impossible figures
	ReasonBadTarget  = "bad_target"   // the registry's address is unusable
	ReasonNotAllowed = "not_allowed"  // the address is outside the allow-list
	ReasonCanceled   = "canceled"     // the manager is stopping: nobody's failure
)

// Reasons lists every reason but ReasonCanceled, for metrics labels.
var Reasons = []string{ReasonTimeout, ReasonRefused, ReasonNetwork, ReasonHTTPStatus, ReasonTooLarge,
	ReasonBadJSON, ReasonOutOfRange, ReasonBadTarget, ReasonNotAllowed}

// Error is a failed request with its reason.
type Error struct {
	Reason string
	Status int // the HTTP status with ReasonHTTPStatus
	err    error
}

// Error is the detail for logs: what was asked, the class, and for an
// error answer at most a short, sanitised excerpt of the agent's message.
func (e *Error) Error() string { return e.err.Error() }
func (e *Error) Unwrap() error { return e.err }

// Public is what an API caller may read: the class alone ("refused",
// "timeout", "http 403", ...), never the remote's words, which would make
// the manager an oracle for whatever answers at an address.
func (e *Error) Public() string {
	if e.Reason == ReasonHTTPStatus {
		return "http " + strconv.Itoa(e.Status)
	}
	return e.Reason
}

// Failf is an Error of reason with a formatted detail.
func Failf(reason string, format string, args ...any) *Error {
	return &Error{Reason: reason, err: fmt.Errorf(format, args...)}
}

// StatusError is the Error of an answer with a non-2xx status; message is
// the agent's {"error"} text, of which at most 80 sanitised bytes are kept.
func StatusError(what string, status int, statusText, message string) *Error {
	detail := what + ": " + statusText
	if message != "" {
		detail += ": " + Excerpt(message)
	}
	return &Error{Reason: ReasonHTTPStatus, Status: status, err: errors.New(detail)}
}

// Classify names the reason of a transport error. A cancelled parent
// context means the manager is stopping; one past its deadline, a timeout.
func Classify(parent context.Context, err error) *Error {
	var ne net.Error
	switch {
	case errors.Is(parent.Err(), context.Canceled):
		return &Error{Reason: ReasonCanceled, err: err}
	case errors.Is(err, netpolicy.ErrNotAllowed):
		return &Error{Reason: ReasonNotAllowed, err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Error{Reason: ReasonTimeout, err: err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Error{Reason: ReasonRefused, err: err}
	}
	return &Error{Reason: ReasonNetwork, err: err}
}

// Excerpt is at most 80 bytes of s, quoted, with anything that could forge
// a log line or confuse a terminal replaced.
func Excerpt(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > 80 {
		cut := 80
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

// Dialer returns a dialer that connects only to addresses allow permits,
// checked on the address actually dialled.
func Dialer(allow netpolicy.List, timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: allow.Control}
}
