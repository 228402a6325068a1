package main

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
)

// idleTimeout closes a connection that sends no request for this long.
const idleTimeout = 2 * time.Minute

// vm is one simulated guest.
type vm struct {
	index int
	start time.Time
}

// serveConn answers requests on one kept-alive connection. Requests are
// read up to their blank line (the manager sends no bodies); the answer is
// written with one syscall.
func serveConn(c net.Conn, v vm) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 4096)
	var m wire.GuestMetrics
	v.init(&m)
	out := make([]byte, 0, 4096)
	body := make([]byte, 0, 2048)
	for {
		c.SetReadDeadline(time.Now().Add(idleTimeout))
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		path := requestPath(line)
		keep := true
		for {
			h, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(bytes.TrimSpace(h)) == 0 {
				break
			}
			if bytes.HasPrefix(bytes.ToLower(h), []byte("connection:")) && bytes.Contains(bytes.ToLower(h), []byte("close")) {
				keep = false
			}
		}
		status, ctype := "200 OK", "application/json"
		switch path {
		case "/metrics":
			v.update(&m, time.Now())
			body = m.AppendJSON(body[:0])
		case "/health":
			body, ctype = append(body[:0], "OK"...), "text/plain"
		default:
			status, body = "404 Not Found", append(body[:0], `{"error":"not found"}`...)
		}
		out = append(out[:0], "HTTP/1.1 "...)
		out = append(out, status...)
		out = append(out, "\r\nContent-Type: "...)
		out = append(out, ctype...)
		out = append(out, "\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(len(body)), 10)
		out = append(out, "\r\n\r\n"...)
		out = append(out, body...)
		if _, err := c.Write(out); err != nil || !keep {
			return
		}
	}
}

// requestPath returns the path of a request line, query left out.
func requestPath(line []byte) string {
	f := bytes.Fields(line)
	if len(f) < 2 {
		return ""
	}
	p, _, _ := bytes.Cut(f[1], []byte("?"))
	return string(p)
}

// init fills the figures that do not change.
func (v vm) init(m *wire.GuestMetrics) {
	m.IntervalMs = 1000
	m.BootID = "00000000-0000-4000-8000-" + strconv.FormatInt(1e11+int64(v.index), 10)
	m.Hostname = "vm-" + strconv.Itoa(v.index)
	m.Kernel = "6.1.0-fleet"
	m.AgentVersion = "fleet"
	m.CPUCount = 1 + v.index%4
	m.MemoryTotalKB = uint64(512+256*(v.index%8)) * 1024
	m.CPU, m.Load, m.Memory = &wire.CPUBreakdown{}, &wire.Load{}, &wire.MemoryDetail{SwapTotalKB: 0}
	m.Network = []wire.NetInterface{{Interface: "eth0"}}
	m.Disks = []wire.Disk{{Device: "vda"}}
	m.Filesystems = []wire.Filesystem{{MountPoint: "/", FSType: "ext4", TotalBytes: 1 << 30}}
	m.Pressure, m.Processes = &wire.Pressure{}, &wire.Processes{}
}

// update sets the figures of second now: each VM follows its own curve, so
// consecutive samples and neighbouring VMs differ.
func (v vm) update(m *wire.GuestMetrics, now time.Time) {
	sec := now.Unix()
	h := mix(uint64(v.index)<<32 ^ uint64(sec))
	cpu := float64(h%10000) / 100
	m.CPUUsagePercent = cpu
	m.CPU.User, m.CPU.System, m.CPU.Idle = cpu*0.7, cpu*0.3, 100-cpu
	avail := m.MemoryTotalKB / 4 * (1 + (h>>16)%3)
	m.MemoryAvailableKB = avail
	m.MemoryUsedKB = m.MemoryTotalKB - avail
	m.MemoryUsagePercent = float64(m.MemoryUsedKB) / float64(m.MemoryTotalKB) * 100
	m.Memory.FreeKB, m.Memory.CachedKB = avail/2, avail/3
	up := uint64(now.Sub(v.start).Seconds()) + uint64(v.index)
	m.UptimeSeconds = up
	m.TimestampMs = now.UnixMilli()
	m.Load.Load1 = cpu / 100 * float64(m.CPUCount)
	rx := float64((h >> 8) % 100000)
	n := &m.Network[0]
	n.RxBytes, n.TxBytes = up*50000+uint64(rx), up*20000
	n.RxPackets, n.TxPackets = n.RxBytes/800, n.TxBytes/800
	n.RxBytesPerSec, n.TxBytesPerSec = rx, rx/3
	d := &m.Disks[0]
	d.ReadBytes, d.WriteBytes = up*4096, up*8192
	d.Reads, d.Writes = up, up*2
	d.ReadBytesPerSec, d.WriteBytesPerSec = 4096, 8192
	f := &m.Filesystems[0]
	f.UsedBytes = 1<<29 + up%(1<<20)
	f.AvailableBytes = f.TotalBytes - f.UsedBytes
	m.Pressure.CPUSomeAvg10 = cpu / 10
	m.Processes.Running, m.Processes.Total = 1+h%3, 80+uint64(v.index%20)
}

// mix is MurmurHash3's 64-bit finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
