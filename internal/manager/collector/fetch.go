package collector

import (
	"time"

	"github.com/fcmon/fcmon/internal/manager/agentclient"
)

// pollError is a failed request with its reason (agentclient.Reason*).
type pollError = agentclient.Error

var failf = agentclient.Failf

// report hands a request's outcome to OnPoll; requests cut short by
// shutdown are not reported.
func (w *worker) report(kind string, start time.Time, err *pollError) {
	if w.c.opt.OnPoll == nil || (err != nil && err.Reason == agentclient.ReasonCanceled) {
		return
	}
	r := PollResult{VMID: w.id, Kind: kind, Latency: time.Since(start)}
	if err != nil {
		r.Reason, r.Status, r.Err = err.Reason, err.Status, err
	}
	w.c.opt.OnPoll(r)
}
