package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// register adds VMs from..to-1 of the fleet through POST /v1/vms, four
// at a time; the first failure stops it.
func (m *manager) register(ctx context.Context, from, to int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range next {
				if err := m.registerOne(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	for i := from; i < to && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

func (m *manager) registerOne(ctx context.Context, i int) error {
	body := fmt.Sprintf(`{"name":"vm-%d","guest_ip":%q,"guest_port":8080}`, i, guestIP(i))
	req, _ := http.NewRequestWithContext(ctx, "POST", m.base+"/v1/vms", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("registering vm-%d: %s %s", i, resp.Status, b)
	}
	return nil
}

// addHosts adds simulated host agents from..to-1 through POST /v1/hosts.
func (m *manager) addHosts(ctx context.Context, from, to int) error {
	for i := from; i < to; i++ {
		body := fmt.Sprintf(`{"url":"http://%s:9091"}`, addrAt(firstHost, i))
		req, _ := http.NewRequestWithContext(ctx, "POST", m.base+"/v1/hosts", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := m.http.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("adding host %d: %s %s", i, resp.Status, b)
		}
	}
	return nil
}

// guestIP is the address of the fleet's VM i.
func guestIP(i int) string { return addrAt(firstGuest, i) }

// addrAt is the IPv4 address i after first.
func addrAt(first string, i int) string {
	a := netip.MustParseAddr(first).As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// vmStatus is what GET /v1/vms tells of a VM's latest sample.
type vmStatus struct {
	Source       string `json:"source"`
	LastSampleMs int64  `json:"last_sample_ms"`
	GuestAgent   struct {
		LastSuccessMs int64 `json:"last_success_ms"`
	} `json:"guest_agent"`
}

// ages lists the VMs and returns, per VM, how old its newest guest figures
// are (seconds), and how many VMs have none at all.
func (m *manager) ages(ctx context.Context) (ages []float64, missing int, err error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", m.base+"/v1/vms", nil)
	resp, err := m.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	// The answer is built when its headers arrive: that is "now".
	now := time.Now().UnixMilli()
	var vms []vmStatus
	if err := json.NewDecoder(resp.Body).Decode(&vms); err != nil {
		return nil, 0, fmt.Errorf("GET /v1/vms: %w", err)
	}
	for _, v := range vms {
		newest := v.GuestAgent.LastSuccessMs
		if v.Source == "guest" {
			newest = v.LastSampleMs
		}
		if newest == 0 {
			missing++
			continue
		}
		ages = append(ages, float64(now-newest)/1000)
	}
	return ages, missing, nil
}

// counters scrapes the manager's own figures from /metrics: every series of
// the named metrics, summed per name.
func (m *manager) counters(ctx context.Context, names ...string) (map[string]float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", m.base+"/metrics?vms=false", nil)
	resp, err := m.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := make(map[string]float64, len(names))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' || !bytes.HasPrefix(line, []byte("fcmon_")) {
			continue
		}
		for _, n := range names {
			rest, ok := bytes.CutPrefix(line, []byte(n))
			if !ok || len(rest) == 0 || (rest[0] != ' ' && rest[0] != '{') {
				continue
			}
			f := bytes.Fields(rest)
			v, _ := strconv.ParseFloat(string(f[len(f)-1]), 64)
			out[n] += v
		}
	}
	return out, sc.Err()
}

// managerLog reads the manager's stderr (at --log-level debug): it keeps
// the warnings and errors, up to 64 KiB, and the latest rollup batch the
// history reported writing.
type managerLog struct {
	mu       sync.Mutex
	partial  []byte
	warnings bytes.Buffer
	batch    batch
}

// batch is one rollup batch: rows written and how long the store took.
type batch struct {
	rows, tookMs int
}

var (
	batchRe = regexp.MustCompile(`msg="history: rollups written".* rows=(\d+) .*took_ms=(\d+)`)
	warnRe  = regexp.MustCompile(`level=(WARN|ERROR)`)
)

func (l *managerLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i+1]
		if m := batchRe.FindSubmatch(line); m != nil {
			rows, _ := strconv.Atoi(string(m[1]))
			took, _ := strconv.Atoi(string(m[2]))
			if rows > 0 {
				l.batch = batch{rows: rows, tookMs: took}
			}
		} else if warnRe.Match(line) && l.warnings.Len() < 64<<10 {
			l.warnings.Write(line)
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *managerLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.warnings.String()
}

// lastBatch is the latest rollup batch written, zero before the first.
func (l *managerLog) lastBatch() batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.batch
}

func (b batch) String() string {
	if b.rows == 0 {
		return "none yet"
	}
	return fmt.Sprintf("%d rows in %d ms (%.0f rows/s)", b.rows, b.tookMs, float64(b.rows)/max(float64(b.tookMs), 1)*1000)
}
