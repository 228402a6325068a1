package fcstandin

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"
)

// QMP is a client of QEMU's machine protocol on a Unix socket.
type QMP struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
}

// DialQMP connects and negotiates capabilities.
func DialQMP(path string) (*QMP, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, err
	}
	q := &QMP{conn: c, r: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := q.r.ReadBytes('\n'); err != nil { // the greeting
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	if _, err := q.Execute("qmp_capabilities", nil); err != nil {
		c.Close()
		return nil, err
	}
	return q, nil
}

// Execute runs a command and returns its "return" value.
func (q *QMP) Execute(cmd string, args any) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	q.conn.SetDeadline(time.Now().Add(5 * time.Second))
	defer q.conn.SetDeadline(time.Time{})
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class, Desc string
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			return nil, err
		}
		switch {
		case resp.Event != "":
			continue // asynchronous events come between answers
		case resp.Error != nil:
			return nil, fmt.Errorf("qmp %s: %s: %s", cmd, resp.Error.Class, resp.Error.Desc)
		}
		return resp.Return, nil
	}
}

// Close closes the connection.
func (q *QMP) Close() error { return q.conn.Close() }

// balloonPath is the QOM path of the virtio-balloon device vmtest adds.
const balloonPath = "/machine/peripheral/balloon0"

// EnableBalloonStats asks the guest's balloon driver to report every
// interval seconds.
func (q *QMP) EnableBalloonStats(interval int) error {
	_, err := q.Execute("qom-set", map[string]any{"path": balloonPath, "property": "guest-stats-polling-interval", "value": interval})
	return err
}

// BalloonStats reads the guest's balloon statistics as Firecracker names
// them; false until the driver has reported.
func (q *QMP) BalloonStats() (BalloonStats, bool) {
	raw, err := q.Execute("qom-get", map[string]any{"path": balloonPath, "property": "guest-stats"})
	if err != nil {
		return BalloonStats{}, false
	}
	var gs struct {
		Stats      map[string]int64 `json:"stats"`
		LastUpdate int64            `json:"last-update"`
	}
	if json.Unmarshal(raw, &gs) != nil || gs.LastUpdate == 0 {
		return BalloonStats{}, false
	}
	get := func(name string) *uint64 {
		v, ok := gs.Stats[name]
		if !ok || v < 0 {
			return nil
		}
		u := uint64(v)
		return &u
	}
	return BalloonStats{
		SwapIn: get("stat-swap-in"), SwapOut: get("stat-swap-out"),
		MajorFaults: get("stat-major-faults"), MinorFaults: get("stat-minor-faults"),
		FreeMemory: get("stat-free-memory"), TotalMemory: get("stat-total-memory"),
		AvailableMemory: get("stat-available-memory"), DiskCaches: get("stat-disk-caches"),
		HugetlbAllocations: get("stat-htlb-pgalloc"), HugetlbFailures: get("stat-htlb-pgfail"),
	}, true
}

// BlockStats returns each block device's totals, by QEMU's device id.
func (q *QMP) BlockStats() (map[string]BlockCounters, error) {
	raw, err := q.Execute("query-blockstats", nil)
	if err != nil {
		return nil, err
	}
	var list []struct {
		Device string `json:"device"`
		QDev   string `json:"qdev"`
		Stats  struct {
			RdBytes uint64 `json:"rd_bytes"`
			WrBytes uint64 `json:"wr_bytes"`
			RdOps   uint64 `json:"rd_operations"`
			WrOps   uint64 `json:"wr_operations"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	out := map[string]BlockCounters{}
	for _, d := range list {
		name := d.Device
		if name == "" {
			name = d.QDev
		}
		out[name] = BlockCounters{ReadBytes: d.Stats.RdBytes, WriteBytes: d.Stats.WrBytes, Reads: d.Stats.RdOps, Writes: d.Stats.WrOps}
	}
	return out, nil
}

// Stop and Cont pause and resume the guest, as a VMM pause does.
func (q *QMP) Stop() error { _, err := q.Execute("stop", nil); return err }

// Cont resumes a guest paused by Stop.
func (q *QMP) Cont() error { _, err := q.Execute("cont", nil); return err }
