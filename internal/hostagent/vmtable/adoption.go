package vmtable

import (
	"errors"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/hostagent/discovery"
	"github.com/fcmon/fcmon/internal/hostagent/vmpath"
)

// Adopt implements discovery.VMs: it adds the VM discovery found as id, or the id it is renamed to:
// a process never takes over a VM another process holds, nor one attached
// by POST /v1/vms unless it is that VM's process (its pid, or the very API
// socket attached). A clash is recorded for the manager, and the newcomer
// is the one renamed, id@pid.
func (a *Table) Adopt(id string, f *discovery.Found) (string, error) {
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	old, exists := a.lookup(id)
	if exists && !a.sameVM(old, f) {
		renamed := id + "@" + strconv.Itoa(f.PID)
		holder := 0
		if old.found != nil {
			holder = old.found.PID
		} else if old.attached != nil {
			holder = old.attached.PID
		}
		a.clashes.add(wire.IDClash{ID: id, PID: f.PID, HolderPID: holder, RenamedTo: renamed, AtMs: time.Now().UnixMilli()})
		a.log.Warn("discovery: a Firecracker process reports the id of another VM; it is watched under another id",
			"vm_id", id, "pid", f.PID, "holder_pid", holder, "renamed_to", renamed)
		id = renamed
		old, exists = a.lookup(id)
	}
	var attached *wire.VMConfig
	var paths resolvedPaths
	if exists {
		attached, paths = old.attached, old.paths
	}
	if !exists && a.count() >= a.opt.MaxVMs {
		return "", errors.New("--max-vms reached")
	}
	if _, err := a.replace(id, attached, paths, f); err != nil {
		return "", err
	}
	if exists && old.found != nil && old.found != f {
		old.found.Root.Close() // a recheck: the VM now holds f's
		if f.Metrics != "" {
			a.log.Info("VM's metrics output found", "vm_id", id, "pid", f.PID, "metrics", f.Metrics)
		}
		return id, nil
	}
	a.log.Info("VM discovered", "vm_id", id, "pid", f.PID, "jailed", f.Root.Jailed(), "jail", f.Root.Dir(),
		"api_socket", f.Root.Show(f.APISocket), "vsock", f.Vsock, "metrics", f.Metrics, "vcpus", f.Info.VCPUs,
		"balloon_stats", f.Info.BalloonStats)
	return id, nil
}

// sameVM reports whether the process f describes may be the VM v: v has
// no process yet and was attached with f's pid or f's very API socket.
func (a *Table) sameVM(v *vm, f *discovery.Found) bool {
	if v.found != nil {
		return v.found.PID == f.PID
	}
	c := v.attached
	if c == nil {
		return false
	}
	if c.PID != 0 {
		return c.PID == f.PID
	}
	if !v.paths.socket.Set() {
		return false
	}
	mine, err1 := v.paths.socket.Key(vmpath.Socket)
	theirs, err2 := f.Root.Key(f.APISocket, vmpath.Socket)
	return err1 == nil && err2 == nil && mine == theirs
}

// Lose implements discovery.VMs: it forgets what discovery brought of a VM
// whose process is gone; a VM attached by POST /v1/vms too stays, as
// attached only.
func (a *Table) Lose(id string) {
	a.attachMu.Lock()
	defer a.attachMu.Unlock()
	v, ok := a.lookup(id)
	if !ok || v.found == nil {
		return
	}
	// The cgroup as the VMM ended, before the VM (and its hold on the
	// cgroup tracker) goes.
	cg, _ := a.cgroups.Final(v.found.PID)
	var fatal string
	if v.reader != nil { // Firecracker writes a last line as it dies
		t, _, _ := v.reader.Snapshot()
		if note, field := t.DeathNote(); note != "" {
			fatal = note + " (" + field + ")"
		}
	}
	if _, err := a.replace(id, v.attached, v.paths, nil); err != nil {
		a.log.Warn("discovery: removing a VM", "vm_id", id, "err", err)
	}
	v.found.Root.Close()
	a.exits.depart(id, v.found.PID, time.Now(), fatal, cg)
	a.log.Info("VM gone: its Firecracker process exited", "vm_id", id, "pid", v.found.PID)
}
