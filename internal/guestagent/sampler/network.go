package sampler

import (
	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/guestagent/procfs"
	"github.com/fcmon/fcmon/internal/guestagent/promtext"
)

// network is /proc/net/dev: every interface but loopback, with rates over
// the window.
type network struct {
	prev, cur []procfs.NetDev
}

func init() { register(func(*Options) figure { return &network{} }) }

func (f *network) read(fs procfs.FS) []sourceErr {
	var err error
	f.prev = f.cur
	f.cur, err = fs.NetDev()
	return failed("netdev", err)
}

func (f *network) fill(m *wire.GuestMetrics, w window) {
	before := make(map[string]procfs.NetDev, len(f.prev))
	for _, n := range f.prev {
		before[n.Name] = n
	}
	out := make([]wire.NetInterface, 0, len(f.cur))
	for _, n := range f.cur {
		if n.Name == "lo" {
			continue
		}
		ni := wire.NetInterface{Interface: n.Name, RxBytes: n.RxBytes, TxBytes: n.TxBytes,
			RxPackets: n.RxPackets, TxPackets: n.TxPackets, RxErrors: n.RxErrors, TxErrors: n.TxErrors,
			RxDropped: n.RxDropped, TxDropped: n.TxDropped}
		if p, ok := before[n.Name]; ok {
			ni.RxBytesPerSec = perSec(p.RxBytes, n.RxBytes, w)
			ni.TxBytesPerSec = perSec(p.TxBytes, n.TxBytes, w)
		}
		out = append(out, ni)
	}
	m.Network = out
}

func (f *network) prom(w *promtext.Writer) {
	if len(f.cur) == 0 {
		return
	}
	counters := []struct {
		name, stat string
		get        func(n *procfs.NetDev) uint64
	}{
		{"node_network_receive_bytes_total", "receive_bytes", func(n *procfs.NetDev) uint64 { return n.RxBytes }},
		{"node_network_receive_packets_total", "receive_packets", func(n *procfs.NetDev) uint64 { return n.RxPackets }},
		{"node_network_receive_errs_total", "receive_errs", func(n *procfs.NetDev) uint64 { return n.RxErrors }},
		{"node_network_receive_drop_total", "receive_drop", func(n *procfs.NetDev) uint64 { return n.RxDropped }},
		{"node_network_transmit_bytes_total", "transmit_bytes", func(n *procfs.NetDev) uint64 { return n.TxBytes }},
		{"node_network_transmit_packets_total", "transmit_packets", func(n *procfs.NetDev) uint64 { return n.TxPackets }},
		{"node_network_transmit_errs_total", "transmit_errs", func(n *procfs.NetDev) uint64 { return n.TxErrors }},
		{"node_network_transmit_drop_total", "transmit_drop", func(n *procfs.NetDev) uint64 { return n.TxDropped }},
	}
	for _, c := range counters {
		w.Family(c.name, "counter", "Network device statistic "+c.stat+".")
		for i := range f.cur {
			w.SampleUint(c.get(&f.cur[i]), "device", f.cur[i].Name)
		}
	}
}
