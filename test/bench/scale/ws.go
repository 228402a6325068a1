package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fcmon/fcmon/test/bench/internal/machine"
)

// maxLatencyMs bounds the latency histogram; slower deliveries count in
// its last bucket.
const maxLatencyMs = 10000

// subscriber is one client of the all-VM stream. It speaks just enough
// WebSocket (RFC 6455) to read unmasked text frames and answer pings, so
// that reading a thousand streams costs the driver little beside the
// manager it measures.
type subscriber struct {
	conn net.Conn
	mu   sync.Mutex // guards hist and msgs
	hist [maxLatencyMs + 1]uint32
	msgs uint64
	gone atomic.Bool
}

func dialStream(base string) (*subscriber, error) {
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 10*time.Second)
	if err != nil {
		return nil, err
	}
	var key [16]byte
	rand.Read(key[:])
	fmt.Fprintf(conn, "GET /v1/metrics/ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", host, base64.StdEncoding.EncodeToString(key[:]))
	r := bufio.NewReaderSize(conn, 256<<10)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		conn.Close()
		return nil, fmt.Errorf("websocket upgrade: %q %w", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	conn.SetReadDeadline(time.Time{})
	s := &subscriber{conn: conn}
	go s.read(r)
	return s, nil
}

var tsKey = []byte(`"timestamp_ms":`)

// read takes frames until the connection ends, recording each sample's
// delivery latency: now minus its timestamp_ms (both on this machine's clock).
func (s *subscriber) read(r *bufio.Reader) {
	defer s.gone.Store(true)
	var hdr [8]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return
		}
		op := hdr[0] & 0x0f
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(r, hdr[:2]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(r, hdr[:8]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(hdr[:8])
		}
		if n > 1<<20 {
			return
		}
		if uint64(cap(payload)) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		switch op {
		case 0x1: // text: a sample
			s.record(payload)
		case 0x9: // ping: answer with a masked pong (zero mask)
			frame := append([]byte{0x8a, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
			s.conn.Write(frame)
		case 0x8: // close
			return
		}
	}
}

func (s *subscriber) record(msg []byte) {
	now := time.Now().UnixMilli()
	i := bytes.Index(msg, tsKey)
	if i < 0 {
		return
	}
	rest := msg[i+len(tsKey):]
	end := bytes.IndexAny(rest, ",}")
	ts, err := strconv.ParseInt(string(rest[:max(end, 0)]), 10, 64)
	if err != nil {
		return
	}
	lat := min(max(now-ts, 0), maxLatencyMs)
	s.mu.Lock()
	s.hist[lat]++
	s.msgs++
	s.mu.Unlock()
}

// take returns and resets the subscriber's figures.
func (s *subscriber) take(into *[maxLatencyMs + 1]uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, v := range s.hist {
		into[i] += uint64(v)
	}
	n := s.msgs
	s.hist, s.msgs = [maxLatencyMs + 1]uint32{}, 0
	return n
}

// fanout measures the all-VM stream with c.subscribers clients at the first
// fleet size.
func fanout(ctx context.Context, c config, m *manager, fl *fleet) error {
	n := c.sizes[0]
	if err := m.register(ctx, 0, n); err != nil {
		return err
	}
	if err := settle(ctx, c, m, n); err != nil {
		return err
	}
	load := machine.Load1()
	subs := make([]*subscriber, 0, c.subscribers)
	defer func() {
		for _, s := range subs {
			s.conn.Close()
		}
	}()
	// Connect 50 at a time: each new client adds to the manager's load.
	var mu sync.Mutex
	var dialErr error
	var wg sync.WaitGroup
	slots := make(chan struct{}, 50)
	t := time.Now()
	for range c.subscribers {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			s, err := dialStream(m.base)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dialErr = err
				return
			}
			subs = append(subs, s)
		})
	}
	wg.Wait()
	if dialErr != nil {
		return fmt.Errorf("connecting subscribers: %w", dialErr)
	}
	fmt.Fprintf(os.Stderr, "scale: %d subscribers connected in %s\n", len(subs), time.Since(t).Round(time.Millisecond))
	machine.Sleep(ctx, c.warmup)
	var rates, p50s, p99s, cpus, selfCPUs []float64
	for _, s := range subs {
		var discard [maxLatencyMs + 1]uint64
		s.take(&discard)
	}
	for range c.windows {
		mc, sc := machine.StartCPU(m.pid()), machine.StartCPU(selfPID)
		start := time.Now()
		if !machine.Sleep(ctx, c.window) {
			return ctx.Err()
		}
		var hist [maxLatencyMs + 1]uint64
		var msgs uint64
		for _, s := range subs {
			msgs += s.take(&hist)
		}
		cpus, selfCPUs = append(cpus, mc.Percent()), append(selfCPUs, sc.Percent())
		rates = append(rates, float64(msgs)/time.Since(start).Seconds())
		p50s, p99s = append(p50s, histPercentile(&hist, msgs, 50)), append(p99s, histPercentile(&hist, msgs, 99))
	}
	cnt, err := m.counters(ctx, mDropped, mSubs)
	if err != nil {
		return err
	}
	connected := 0
	for _, s := range subs {
		if !s.gone.Load() {
			connected++
		}
	}
	if c.header {
		fmt.Println("| VMs | subscribers | messages delivered/s (wanted) | latency p50 / p99 | manager CPU | manager RSS | subscribers' CPU | dropped as too slow | load 1m |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|")
	}
	fmt.Printf("| %d | %d | %.0f (%d) | %.0f ms / %.0f ms | %.0f %% | %.0f MiB | %.0f %% | %.0f (%d still connected) | %.2f |\n",
		n, c.subscribers, machine.Median(rates), n*c.subscribers, machine.Median(p50s), machine.Median(p99s),
		machine.Median(cpus), float64(machine.RSSKB(m.pid()))/1024, machine.Median(selfCPUs), cnt[mDropped], connected, load)
	return nil
}

// histPercentile is the p-th percentile, in ms, of total latencies
// counted in hist.
func histPercentile(hist *[maxLatencyMs + 1]uint64, total uint64, p float64) float64 {
	if total == 0 {
		return 0
	}
	want := uint64(float64(total)*p/100 + 0.5)
	var seen uint64
	for ms, v := range hist {
		seen += v
		if seen >= max(want, 1) {
			return float64(ms)
		}
	}
	return maxLatencyMs
}
