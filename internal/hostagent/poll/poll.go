// Package poll asks, every interval, what only a VM's own channels can
// tell the host agent: its guest agent (over Firecracker's vsock, or TCP),
// its balloon's statistics, and Firecracker's account of it; FlushMetrics
// rides on the same rounds.
package poll

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
	"github.com/fcmon/fcmon/internal/core/netpolicy"
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/firecracker"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// Poller asks, every interval at the VM's own phase, what only the VM's
// channels can tell: the guest agent (over Firecracker's vsock, or TCP for a
// VM attached with guest_addr), the balloon's statistics, and — until it
// has answered once — Firecracker's account of the VM (GET / and
// /vm/config), which also names the vsock socket of a VM attached by its
// API socket alone.
type Poller struct {
	opt     Options
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
	mmds      mmdsLabels
}

// Options are how the host agent polls its VMs.
type Options struct {
	Interval       time.Duration
	GuestVsockPort uint32
	// GuestAllow checks the address of a guest agent read over TCP.
	GuestAllow netpolicy.List
	// GuestHeader is sent with every request to a guest agent (its token).
	GuestHeader []string
}

// VM is what a poller asks of one VM: its API (nil without an API
// socket), where the paths the API names resolve (APIRoot: the vsock
// socket of a VM attached by its API socket alone), its guest agent's
// channel when already known (Vsock or GuestAddr, at most one), and
// Firecracker's account when discovery already has it.
type VM struct {
	ID        string
	API       *firecracker.Client
	APIRoot   *vmpath.Root
	Vsock     vmpath.Path
	GuestAddr string
	Info      *wire.FirecrackerInfo
}

// New returns the poller of vm; Start runs it, Close stops it.
func New(o Options, vm VM) *Poller {
	h := fnv.New64a()
	h.Write([]byte(vm.ID))
	p := &Poller{opt: o, id: vm.ID, api: vm.API, apiRoot: vm.APIRoot, done: make(chan struct{}),
		phase: time.Duration(h.Sum64() % uint64(o.Interval))}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if vm.Info != nil {
		info := *vm.Info
		p.info, p.balloonOn = &info, info.BalloonStats
	}
	switch {
	case vm.GuestAddr != "":
		p.setGuest(wire.TransportTCP, vm.GuestAddr, func(ctx context.Context) (net.Conn, error) {
			d := net.Dialer{Control: o.GuestAllow.Control}
			return d.DialContext(ctx, "tcp", vm.GuestAddr)
		})
	case vm.Vsock.Set():
		p.setVsock(vm.Vsock)
	}
	return p
}

// SetFlusher makes each round request FlushMetrics through f (nil: none);
// it changes with the metrics FIFO, the poller may stay.
func (p *Poller) SetFlusher(f *firecracker.Flusher) { p.flusher.Store(f) }

// setVsock points the guest connection at the VM's vsock socket, which is
// checked at every dial: the guests' token goes to no other socket.
func (p *Poller) setVsock(v vmpath.Path) {
	port := p.opt.GuestVsockPort
	p.setGuest(wire.TransportVsock, v.Shown(), func(ctx context.Context) (net.Conn, error) {
		return firecracker.DialVsock(ctx, v.Dial, port)
	})
}

// setGuest points the guest connection at target, reached by dial.
func (p *Poller) setGuest(transport, target string, dial firecracker.Dialer) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	p.guest.Close()
	p.target = target
	p.guest = httpconn.Conn{Dial: dial, Host: "guest", Header: p.opt.GuestHeader}
	p.mu.Lock()
	p.transport = transport
	p.mu.Unlock()
}

// Start starts polling in a goroutine of its own.
func (p *Poller) Start() { go p.run() }

// Close stops polling and waits for the round under way.
func (p *Poller) Close() {
	p.cancel()
	<-p.done
	p.connMu.Lock()
	p.guest.Close()
	p.connMu.Unlock()
}

func (p *Poller) run() {
	defer close(p.done)
	iv := p.opt.Interval
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
func (p *Poller) round() {
	ctx, cancel := context.WithTimeout(p.ctx, p.opt.Interval*8/10)
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
	if p.api != nil && p.rounds%mmdsEvery(p.opt.Interval) == 0 {
		p.pollMMDS(ctx)
	}
}

func (p *Poller) needInfo() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info == nil
}

func (p *Poller) hasGuest() bool {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	return p.target != ""
}

func (p *Poller) balloonEnabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.balloonOn
}

// learn asks Firecracker what the VM is; the vsock socket it names becomes
// the guest's channel when the VM was attached without one.
func (p *Poller) learn(ctx context.Context) {
	ii, err := p.api.InstanceInfo(ctx)
	if err != nil {
		return
	}
	vc, err := p.api.VMConfig(ctx)
	if err != nil {
		return
	}
	info := firecracker.Info(ii, vc)
	p.mu.Lock()
	p.info, p.balloonOn = &info, info.BalloonStats
	p.mu.Unlock()
	if vc.Vsock != nil && vc.Vsock.UDSPath != "" && !p.hasGuest() && p.apiRoot != nil {
		// Resolved where the API socket's paths are: an attached VM's on
		// the host, beneath --allow-paths (a discovered one's vsock socket
		// comes from discovery).
		v := vmpath.Path{Root: p.apiRoot, Name: vc.Vsock.UDSPath}
		p.setVsock(v)
		p.mu.Lock()
		p.vsock = v.Shown()
		p.mu.Unlock()
	}
}

// pollGuest reads the guest agent's /metrics document; false when it
// could not.
func (p *Poller) pollGuest(ctx context.Context) bool {
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
func (p *Poller) pollBalloon(ctx context.Context) {
	st, err := p.api.BalloonStats(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.balErr = err.Error()
		return
	}
	p.balloon, p.balloonAt, p.balErr = &st, time.Now(), ""
}

// GuestProm fetches the guest agent's Prometheus text on the poller's
// connection (for the host agent's /metrics).
func (p *Poller) GuestProm(ctx context.Context) ([]byte, error) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.target == "" {
		return nil, ErrNoGuest
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

// ErrNoGuest: the VM's guest agent has no channel (yet).
var ErrNoGuest = errors.New("no guest agent channel")

// FirecrackerInfo is Firecracker's account, nil before it answered.
func (p *Poller) FirecrackerInfo() *wire.FirecrackerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.info == nil {
		return nil
	}
	info := *p.info
	return &info
}

// Snapshot returns the latest guest and balloon readings and the errors of
// the latest attempts, for GET /v1/samples.
func (p *Poller) Snapshot(now time.Time) (g *wire.GuestSample, b *wire.BalloonStats, errs map[string]string, vsock string) {
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
		b = firecracker.BalloonKB(p.balloon)
		b.AgeMs = now.Sub(p.balloonAt).Milliseconds()
	}
	if p.balErr != "" {
		errs["balloon"] = p.balErr
	}
	return g, b, errs, p.vsock
}
