package poll

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fcmon/fcmon/internal/core/labels"
)

// mmdsReread is how often a VM's MMDS is asked for its labels: a launcher
// that relabels a running VM there is seen within it.
const mmdsReread = 10 * time.Second

// mmdsEvery is mmdsReread in rounds of interval.
func mmdsEvery(interval time.Duration) uint64 {
	return max(1, uint64(mmdsReread/max(interval, time.Millisecond)))
}

// mmdsLabels are the labels of a VM's MMDS as last read.
type mmdsLabels struct {
	set     labels.Set
	found   bool
	problem string
}

// MMDSKey is where in a VM's MMDS its launcher puts its labels:
// {"fcmon": {"labels": {"tenant": "acme"}}}.
const MMDSKey = "fcmon"

// pollMMDS reads the labels the launcher put in the VM's MMDS. No data
// store, or one without the key, is no labels and no problem.
func (p *Poller) pollMMDS(ctx context.Context) {
	body, err := p.api.MMDS(ctx)
	var got mmdsLabels
	if err == nil {
		got = parseMMDS(body)
	}
	p.mu.Lock()
	p.mmds = got
	p.mu.Unlock()
}

// parseMMDS finds the labels in an MMDS document: fcmon.labels, an object
// of string to string checked as a labels file is. Anything else under
// fcmon.labels gives no labels and says why.
func parseMMDS(body []byte) mmdsLabels {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return mmdsLabels{} // not an object: not ours
	}
	raw, ok := doc[MMDSKey]
	if !ok {
		return mmdsLabels{}
	}
	var ours map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ours); err != nil {
		return mmdsLabels{found: true, problem: fmt.Sprintf("MMDS %s is not an object", MMDSKey)}
	}
	lb, ok := ours["labels"]
	if !ok {
		return mmdsLabels{}
	}
	set, err := labels.ParseFile(lb)
	if err != nil {
		return mmdsLabels{found: true, problem: fmt.Sprintf("MMDS %s.labels: %v", MMDSKey, err)}
	}
	return mmdsLabels{set: set, found: true}
}

// MMDSLabels are the labels of the VM's MMDS as last read; found says the
// MMDS holds fcmon.labels (problem: why they were refused).
func (p *Poller) MMDSLabels() (set labels.Set, found bool, problem string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mmds.set, p.mmds.found, p.mmds.problem
}
