package hostagent

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcmon/fcmon/internal/core/httpconn"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// poller asks, every interval at the VM's own phase, what only the VM's
// channels can tell: the guest agent (over Firecracker's vsock, or TCP for a
// VM attached with guest_addr), the balloon's statistics, and — until it
// has answered once — Firecracker's account of the VM (GET / and
// /vm/config), which also names the vsock socket of a VM attached by its
// API socket alone.
type poller struct {
	a       *Agent
	id      string
	api     *firecracker.Client // nil without an API socket
	apiRoot *vmpath.Root        // where the paths the API names resolve
	phase   time.Duration
	// flusher, when the VM has a metrics FIFO, is asked each round to
	// request FlushMetrics; it changes with the FIFO, the poller may stay.
	flusher atomic.Pointer[firecracker.Flusher]
	ctx     context.Context // ends with close
	cancel  context.CancelFunc
	done    chan struct{}
	rounds  uint64 // run's count, for the balloon's cadence

	connMu sync.Mutex // guest: one request at a time (the poller's and scrapes')
	guest  httpconn.Conn
	target string // the guest's vsock socket or TCP address; "" until known

	mu        sync.Mutex
	info      *wire.FirecrackerInfo
	vsock     string // learnt from the API when not given
	transport string
	doc       *wire.GuestMetrics
	docAt     time.Time
	guestErr  string
	balloon   *firecracker.BalloonStats
	balloonAt time.Time
	balloonOn bool
	balErr    string
}

// newPoller returns the poller of VM id; vsock or guestAddr (at most one)
// name the guest agent when already known, f is discovery's account. The
// paths the API names (the vsock socket of a VM attached by its API
// socket) resolve in apiRoot.
func (a *Agent) newPoller(id string, api *firecracker.Client, apiRoot *vmpath.Root, vsock vpath, guestAddr string, f *found) *poller {
	h := fnv.New64a()
	h.Write([]byte(id))
	p := &poller{a: a, id: id, api: api, apiRoot: apiRoot, done: make(chan struct{}),
		phase: time.Duration(h.Sum64() % uint64(a.cfg.Interval))}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if f != nil {
		info := f.info
		p.info, p.balloonOn = &info, info.BalloonStats
	}
	switch {
	case guestAddr != "":
		p.setGuest(wire.TransportTCP, guestAddr, func(ctx context.Context) (net.Conn, error) {
			d := net.Dialer{Control: a.set.guestAllow.Control}
			return d.DialContext(ctx, "tcp", guestAddr)
		})
	case vsock.set():
		p.setVsock(vsock)
	}
	return p
}

// setVsock points the guest connection at the VM's vsock socket, which is
// checked at every dial: the guests' token goes to no other socket.
func (p *poller) setVsock(v vpath) {
	port := uint32(p.a.cfg.GuestVsockPort)
	p.setGuest(wire.TransportVsock, v.shown(), func(ctx context.Context) (net.Conn, error) {
		return firecracker.DialVsock(ctx, v.dial, port)
	})
}

// setGuest points the guest connection at target, reached by dial.
func (p *poller) setGuest(transport, target string, dial firecracker.Dialer) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	p.guest.Close()
	p.target = target
	p.guest = httpconn.Conn{Dial: dial, Host: "guest", Header: p.a.guestHeader()}
	p.mu.Lock()
	p.transport = transport
	p.mu.Unlock()
}

func (p *poller) start() { go p.run() }

func (p *poller) close() {
	p.cancel()
	<-p.done
	p.connMu.Lock()
	p.guest.Close()
	p.connMu.Unlock()
}

func (p *poller) run() {
	defer close(p.done)
	iv := p.a.cfg.Interval
	for {
		now := time.Now()
		next := now.Truncate(iv).Add(p.phase)
		if !next.After(now) {
			next = next.Add(iv)
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		p.round()
		p.rounds++
	}
}

// balloonEvery is how many rounds apart the balloon is asked while the
// guest agent answers: its figures are the fallback, needed every round
// only while the guest is silent, and each call takes Firecracker's API
// thread, which the VMM shares.
const balloonEvery = 10

// round makes one round of requests, all bounded by most of an interval:
// the guest agent first (independent of Firecracker's API, so a busy API
// thread never costs the guest's figures), then FlushMetrics, then the
// balloon.
func (p *poller) round() {
	ctx, cancel := context.WithTimeout(p.ctx, p.a.cfg.Interval*8/10)
	defer cancel()
	if p.api != nil && p.needInfo() {
		p.learn(ctx)
	}
	guestOK := false
	if p.hasGuest() {
		guestOK = p.pollGuest(ctx)
	}
	if f := p.flusher.Load(); f != nil {
		f.Flush(ctx, time.Now())
	}
	if p.api != nil && p.balloonEnabled() && (!guestOK || p.rounds%balloonEvery == 0) {
		p.pollBalloon(ctx)
	}
}

func (p *poller) needInfo() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info == nil
}

func (p *poller) hasGuest() bool {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	return p.target != ""
}

func (p *poller) balloonEnabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.balloonOn
}

// learn asks Firecracker what the VM is; the vsock socket it names becomes
// the guest's channel when the VM was attached without one.
func (p *poller) learn(ctx context.Context) {
	ii, err := p.api.InstanceInfo(ctx)
	if err != nil {
		return
	}
	vc, err := p.api.VMConfig(ctx)
	if err != nil {
		return
	}
	info := infoOf(ii, vc)
	p.mu.Lock()
	p.info, p.balloonOn = &info, info.BalloonStats
	p.mu.Unlock()
	if vc.Vsock != nil && vc.Vsock.UDSPath != "" && !p.hasGuest() && p.apiRoot != nil {
		// Resolved where the API socket's paths are: an attached VM's on
		// the host, beneath --allow-paths (a discovered one's vsock socket
		// comes from discovery).
		v := vpath{root: p.apiRoot, name: vc.Vsock.UDSPath}
		p.setVsock(v)
		p.mu.Lock()
		p.vsock = v.shown()
		p.mu.Unlock()
	}
}

// infoOf is Firecracker's account of a VM in the agent's terms.
func infoOf(ii firecracker.InstanceInfo, vc firecracker.VMConfig) wire.FirecrackerInfo {
	info := wire.FirecrackerInfo{State: ii.State, VMMVersion: ii.VMMVersion,
		VCPUs: vc.MachineConfig.VCPUCount, MemSizeMiB: vc.MachineConfig.MemSizeMiB}
	if b := vc.Balloon; b != nil {
		info.BalloonStats = b.StatsPollingIntervalS > 0
	}
	for _, n := range vc.Network {
		if n.HostDevName != "" {
			info.Taps = append(info.Taps, n.HostDevName)
		}
	}
	if vc.Vsock != nil {
		info.GuestCID = vc.Vsock.GuestCID
	}
	return info
}

// pollGuest reads the guest agent's /metrics document; false when it
// could not.
func (p *poller) pollGuest(ctx context.Context) bool {
	p.connMu.Lock()
	r, err := p.guest.Do(ctx, "GET", "/metrics", nil)
	p.connMu.Unlock()
	var doc wire.GuestMetrics
	switch {
	case err != nil:
	case r.Status != 200:
		err = errors.New("the guest agent answered " + strconv.Itoa(r.Status))
	default:
		if err = json.Unmarshal(r.Body, &doc); err == nil {
			err = doc.Validate()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.guestErr = err.Error()
		return false
	}
	p.doc, p.docAt, p.guestErr = &doc, time.Now(), ""
	return true
}

// pollBalloon reads the balloon's statistics.
func (p *poller) pollBalloon(ctx context.Context) {
	st, err := p.api.BalloonStats(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.balErr = err.Error()
		return
	}
	p.balloon, p.balloonAt, p.balErr = &st, time.Now(), ""
}

// guestProm fetches the guest agent's Prometheus text on the poller's
// connection (for the host agent's /metrics).
func (p *poller) guestProm(ctx context.Context) ([]byte, error) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.target == "" {
		return nil, errNoGuest
	}
	r, err := p.guest.Do(ctx, "GET", "/metrics?format=prometheus", nil)
	if err != nil {
		return nil, err
	}
	if r.Status != 200 {
		return nil, errors.New("the guest agent answered " + strconv.Itoa(r.Status))
	}
	return r.Body, nil
}

var errNoGuest = errors.New("no guest agent channel")

// firecrackerInfo is Firecracker's account, nil before it answered.
func (p *poller) firecrackerInfo() *wire.FirecrackerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.info == nil {
		return nil
	}
	info := *p.info
	return &info
}

// snapshot returns the latest guest and balloon readings and the errors of
// the latest attempts, for GET /v1/samples.
func (p *poller) snapshot(now time.Time) (g *wire.GuestSample, b *wire.BalloonStats, errs map[string]string, vsock string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	errs = map[string]string{}
	if p.doc != nil {
		g = &wire.GuestSample{GuestMetrics: *p.doc, Transport: p.transport, AgeMs: now.Sub(p.docAt).Milliseconds()}
		if c := p.doc.ClockUnixMs; c != 0 {
			skew := c - p.docAt.UnixMilli() // the guest's clock against this host's, when read
			g.ClockSkewMs = &skew
		}
	}
	if p.guestErr != "" {
		errs["guest"] = p.guestErr
	}
	if p.balloon != nil {
		b = balloonKB(p.balloon)
		b.AgeMs = now.Sub(p.balloonAt).Milliseconds()
	}
	if p.balErr != "" {
		errs["balloon"] = p.balErr
	}
	return g, b, errs, p.vsock
}

// balloonKB turns Firecracker's balloon statistics (bytes) into kB.
func balloonKB(st *firecracker.BalloonStats) *wire.BalloonStats {
	kb := func(v *uint64) *uint64 {
		if v == nil {
			return nil
		}
		x := *v / 1024
		return &x
	}
	return &wire.BalloonStats{TotalKB: kb(st.TotalMemory), AvailableKB: kb(st.AvailableMemory), FreeKB: kb(st.FreeMemory),
		DiskCachesKB: kb(st.DiskCaches), SwapInKB: kb(st.SwapIn), SwapOutKB: kb(st.SwapOut),
		MajorFaults: st.MajorFaults, MinorFaults: st.MinorFaults, OOMKills: st.OOMKill,
		TargetMiB: st.TargetMiB, ActualMiB: st.ActualMiB}
}

// guestHeader is what every request to a guest agent carries.
func (a *Agent) guestHeader() []string {
	h := []string{"User-Agent: fcmon-host-agent"}
	if a.set.guestToken != "" {
		h = append(h, "Authorization: Bearer "+a.set.guestToken)
	}
	return h
}
