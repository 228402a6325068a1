package serve

import (
	"maps"
	"os"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// infoCollector exports fcmon_vm_info{vm_id, vm_name, host, <labels>} 1
// for every VM with the labels its launcher gave it, to join onto the
// host agent's series by vm_id (as on the manager's). Its label names
// are the union of this scrape's, so it is an unchecked collector.
type infoCollector struct{ h Host }

// Describe sends nothing: the descriptor changes with the VMs' labels.
func (infoCollector) Describe(chan<- *prometheus.Desc) {}

// Collect exports one fcmon_vm_info series per VM.
func (c infoCollector) Collect(ch chan<- prometheus.Metric) {
	host, _ := os.Hostname()
	vms := c.h.VMs()
	sets := make([]map[string]string, len(vms))
	keys := map[string]bool{}
	for i, v := range vms {
		sets[i] = v.Stats().Labels
		for k := range sets[i] {
			keys[k] = true
		}
	}
	names := append([]string{"vm_id", "vm_name", "host"}, slices.Sorted(maps.Keys(keys))...)
	d := prometheus.NewDesc("fcmon_vm_info", "1 for every VM, labelled with the labels its launcher gave it (docs/labels.md).", names, nil)
	values := make([]string, len(names))
	for i, v := range vms {
		values[0], values[1], values[2] = v.ID(), v.ID(), host
		for j, k := range names[3:] {
			values[3+j] = sets[i][k]
		}
		m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, 1, values...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
}
