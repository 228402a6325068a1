package export

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// infoCollector exports fcmon_vm_info{vm_id, vm_name, host, <labels>} 1
// for every VM: its labels, to join onto any series by vm_id
// (group_left) without copying them onto each. Its label names are the
// union of the VMs' labels in this scrape (a VM without one has it empty,
// which Prometheus reads as absent), so it has no fixed descriptor: an
// unchecked collector.
type infoCollector struct{ latest func() []Labeled }

// Describe sends nothing: the descriptor changes with the VMs' labels.
func (infoCollector) Describe(chan<- *prometheus.Desc) {}

// Collect exports one fcmon_vm_info series per VM.
func (c infoCollector) Collect(ch chan<- prometheus.Metric) {
	vms := c.latest()
	keys := map[string]bool{}
	for _, vm := range vms {
		for k := range vm.Labels {
			keys[k] = true
		}
	}
	names := append([]string{"vm_id", "vm_name", "host"}, slices.Sorted(maps.Keys(keys))...)
	d := prometheus.NewDesc("fcmon_vm_info", "1 for every VM, labelled with its labels (set through the API or by its launcher) and its host agent.", names, nil)
	values := make([]string, len(names))
	for _, vm := range vms {
		values[0], values[1], values[2] = vm.VMID, vm.VMName, vm.HostID
		for i, k := range names[3:] {
			values[3+i] = vm.Labels[k]
		}
		m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, 1, values...)
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
}
