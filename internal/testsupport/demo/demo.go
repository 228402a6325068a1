// Package demo runs the whole system on one machine for make run: a manager on
// SQLite that collects a host agent, and two QEMU guests each behind a
// Firecracker stand-in (fcstandin: Firecracker's API and vsock, QEMU's
// process named firecracker), which the host agent discovers by itself and
// reads over vsock; one guest runs the integration guide's stress loop.
// Everything listens on loopback; the guests reach nothing.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// Options configure Run.
type Options struct {
	Bin           string // folder holding manager, host-agent and guest-agent
	DataDir       string // the manager's --data-dir; logs and VM ids go there too
	ManagerAddr   string // loopback host:port of the manager
	HostAgentAddr string // loopback host:port of the host agent
	StressSeconds int    // how long the stress loop runs at most
	Out           io.Writer
}

// demo is a running system and what stops it.
type demo struct {
	o       Options
	began   time.Time
	manager *program
	host    *program
	fcDir   string // where the stand-ins' sockets are: the host agent's --discover-scope
	mu      sync.Mutex
	vms     []*fcstandin.QEMUVM
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.o.Out, "run: [%5.1fs] %s\n", time.Since(d.began).Seconds(), fmt.Sprintf(format, args...))
}

// Run starts the system, reports progress on o.Out, and keeps it running until ctx
// ends (nil is returned) or a component exits on its own (an error). Whatever it
// started is stopped before it returns.
func Run(ctx context.Context, o Options) error {
	d := &demo{o: o, began: time.Now()}
	if _, err := loopbackPort(o.ManagerAddr); err != nil {
		return err
	}
	if _, err := loopbackPort(o.HostAgentAddr); err != nil {
		return err
	}
	if err := vmtest.Available(vmtest.Config{}); err != nil {
		return err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "fcmon-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	defer d.stop()
	d.fcDir = filepath.Join(work, "fc")

	if err := d.startServices(ctx); err != nil {
		return err
	}
	d.dropOld(ctx)
	booted, err := d.bootGuests(ctx, work)
	if err != nil {
		return err
	}
	if err := d.waitSamples(ctx, booted); err != nil {
		return err
	}
	d.banner(booted)
	return d.watch(ctx)
}

// startServices starts the manager and the host agent and waits until both answer.
func (d *demo) startServices(ctx context.Context) error {
	o := d.o
	logPath := filepath.Join(o.DataDir, "manager.log")
	d.say("starting the manager on http://%s (SQLite %s, log %s)", o.ManagerAddr,
		filepath.Join(o.DataDir, "fcmon.db"), logPath)
	var err error
	d.manager, err = startProgram("manager", filepath.Join(o.Bin, "manager"), logPath,
		"--listen", o.ManagerAddr, "--data-dir", o.DataDir, "--poll-interval", "1s",
		"--host-agents", "http://"+o.HostAgentAddr,
		// VMs registered by hand on this machine (the API's examples) are
		// reached on loopback.
		"--guest-allow-cidrs", "127.0.0.0/8")
	if err != nil {
		return err
	}
	if err := d.manager.waitHealthy(ctx, "http://"+o.ManagerAddr+"/healthz", 20*time.Second); err != nil {
		return fmt.Errorf("%w; see %s (is %s in use? set MANAGER_ADDR)", err, logPath, o.ManagerAddr)
	}
	logPath = filepath.Join(o.DataDir, "host-agent.log")
	d.say("starting the host agent on http://%s, discovering the Firecracker VMs below %s (log %s)", o.HostAgentAddr, d.fcDir, logPath)
	d.host, err = startProgram("host agent", filepath.Join(o.Bin, "host-agent"), logPath,
		"--listen", o.HostAgentAddr, "--interval", "1s", "--discover-scope", d.fcDir, "--allow-paths", d.fcDir)
	if err != nil {
		return err
	}
	if err := d.host.waitHealthy(ctx, "http://"+o.HostAgentAddr+"/health", 20*time.Second); err != nil {
		return fmt.Errorf("%w; see %s (is %s in use? set HOST_AGENT_ADDR)", err, logPath, o.HostAgentAddr)
	}
	return nil
}

// stop ends the guests, then the host agent, then the manager.
func (d *demo) stop() {
	d.mu.Lock()
	vms := d.vms
	d.vms = nil
	d.mu.Unlock()
	if len(vms) > 0 || d.host != nil || d.manager != nil {
		d.say("stopping %d guests, the host agent and the manager", len(vms))
	}
	for _, vm := range vms {
		if err := vm.Stop(); err != nil {
			d.say("%v", err)
		}
	}
	os.RemoveAll(d.fcDir)
	for _, p := range []*program{d.host, d.manager} {
		if p != nil {
			p.stop(5 * time.Second)
		}
	}
}

// watch waits until ctx ends or a component exits.
func (d *demo) watch(ctx context.Context) error {
	exited := make(chan string, 8)
	notify := func(name string, ch <-chan struct{}) {
		go func() {
			select {
			case <-ch:
				exited <- name
			case <-ctx.Done():
			}
		}()
	}
	notify("the manager (see "+filepath.Join(d.o.DataDir, "manager.log")+")", d.manager.exited)
	notify("the host agent (see "+filepath.Join(d.o.DataDir, "host-agent.log")+")", d.host.exited)
	d.mu.Lock()
	for _, vm := range d.vms {
		notify("the QEMU of "+vm.StandIn.ID(), vm.Guest.Exited())
	}
	d.mu.Unlock()
	select {
	case <-ctx.Done():
		fmt.Fprintln(d.o.Out)
		return nil
	case name := <-exited:
		if ctx.Err() != nil { // stopped by the same Ctrl-C
			return nil
		}
		return errors.New(name + " exited on its own")
	}
}

// loopbackPort checks that addr is a loopback host:port and returns the port.
func loopbackPort(addr string) (int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	port, perr := strconv.Atoi(p)
	if ip == nil || !ip.IsLoopback() || perr != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("address %q is not a loopback IP and port: the demo stays on loopback", addr)
	}
	return port, nil
}
