package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// bootedGuest is a demo guest that is up.
type bootedGuest struct {
	Guest
	id string
	vm *vmtest.VM
}

// bootGuests boots every guest of Guests at once. Each is registered with the
// manager (id, name, host agent, QEMU's pid as the VMM) before it starts, so its
// agent's self-registration finds the VM.
func (d *demo) bootGuests(ctx context.Context, work string, managerPort int) ([]bootedGuest, error) {
	names := make([]string, len(Guests))
	for i, g := range Guests {
		names[i] = fmt.Sprintf("%s (%d vCPU, %d MiB)", g.Name, g.CPUs, g.MemoryMiB)
	}
	d.say("booting %s under QEMU (TCG, a few seconds each)", strings.Join(names, " and "))
	client := NewClient("http://" + d.o.ManagerAddr)
	out := make([]bootedGuest, len(Guests))
	errs := make([]error, len(Guests))
	var wg sync.WaitGroup
	for i, g := range Guests {
		wg.Go(func() { out[i], errs[i] = d.bootGuest(ctx, client, g, work, managerPort) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *demo) bootGuest(ctx context.Context, client *Client, g Guest, work string, managerPort int) (bootedGuest, error) {
	b := bootedGuest{Guest: g}
	var err error
	if b.id, err = d.vmID(g.Name); err != nil {
		return b, err
	}
	hostPort, err := d.agentPort(g)
	if err != nil {
		return b, err
	}
	dir := filepath.Join(work, g.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return b, err
	}
	cfg, err := g.VMConfig(filepath.Join(d.o.Bin, "guest-agent"), dir, b.id, managerPort, hostPort)
	if err != nil {
		return b, err
	}
	cfg.BeforeBoot = func(pid int) error {
		return client.Register(ctx, VM{ID: b.id, Name: g.Name,
			HostAgentURL: "http://" + d.o.HostAgentAddr, VMMPID: pid})
	}
	vm, err := vmtest.Launch(ctx, cfg, dir)
	if err != nil {
		return b, fmt.Errorf("%s: %w", g.Name, err)
	}
	b.vm = vm
	d.mu.Lock()
	d.vms = append(d.vms, vm)
	d.mu.Unlock()
	what := "its agent registers itself"
	if g.Stress {
		if _, err := vm.Run(ctx, StressCommand(d.o.StressSeconds)); err != nil {
			return b, fmt.Errorf("%s: starting the stress loop: %w", g.Name, err)
		}
		what += "; stress loop started"
	}
	d.say("%s booted in %v (QEMU pid %d, agent at 127.0.0.1:%d); %s",
		g.Name, vm.BootTime.Round(100*time.Millisecond), vm.PID(), hostPort, what)
	return b, nil
}

// dropLegacy removes the VM an earlier make run registered for an agent on this
// machine's /proc (its id is in demo-vm-id), which no longer runs.
func (d *demo) dropLegacy(ctx context.Context) {
	path := filepath.Join(d.o.DataDir, "demo-vm-id")
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	id := strings.TrimSpace(string(data))
	err = NewClient("http://"+d.o.ManagerAddr).Do(ctx, "DELETE", "/v1/vms/"+id, nil, nil, 204)
	if se := (*StatusError)(nil); err == nil || errors.As(err, &se) && se.Status == 404 {
		os.Remove(path)
		d.say("removed the VM of an earlier make run (%s)", id)
	}
}

// agentPort is the host port forwarded to the guest's agent: 8081 for the first
// guest, 8082 for the second, so the docs' commands can name them, or any free
// port when that one is taken.
func (d *demo) agentPort(g Guest) (int, error) {
	for i, gg := range Guests {
		if gg.Name != g.Name {
			continue
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 8081+i)); err == nil {
			l.Close()
			return 8081 + i, nil
		}
	}
	return FreePort()
}

// vmID returns the guest's VM id, kept in the data folder so every run shows
// the same VMs.
func (d *demo) vmID(name string) (string, error) {
	path := filepath.Join(d.o.DataDir, "demo-"+name+".id")
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) == 36 {
		return strings.TrimSpace(string(data)), nil
	}
	id := NewUUID()
	return id, os.WriteFile(path, []byte(id+"\n"), 0o600)
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// waitSamples waits until the manager has a sample from every guest's agent.
func (d *demo) waitSamples(ctx context.Context, guests []bootedGuest) error {
	client := NewClient("http://" + d.o.ManagerAddr)
	for _, g := range guests {
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		s, err := client.WaitFor(wctx, g.id, func(s wire.CombinedSample) bool {
			return s.Source == wire.SourceGuest
		})
		cancel()
		if err != nil {
			log, _ := g.vm.Run(ctx, "tail -n 20 "+vmtest.GuestAgentLog)
			return fmt.Errorf("%s: no sample from its guest agent: %w; latest %+v; agent log:\n%s", g.Name, err, s, log)
		}
		d.say("%s: samples from its guest agent (source guest, memory total %d MiB)",
			g.Name, deref(s.MemoryTotalKB)/1024)
	}
	return nil
}

func deref(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// banner says where to look.
func (d *demo) banner(guests []bootedGuest) {
	base := "http://" + d.o.ManagerAddr
	fmt.Fprintf(d.o.Out, "\nfcmon is running (up in %.1fs):\n", time.Since(d.began).Seconds())
	fmt.Fprintf(d.o.Out, "  web UI         %s/\n", base)
	for _, g := range guests {
		fmt.Fprintf(d.o.Out, "  %-14s curl %s/v1/vms/%s/metrics\n", g.Name, base, g.id)
	}
	fmt.Fprintf(d.o.Out, "  all VMs        curl %s/v1/vms\n", base)
	fmt.Fprintf(d.o.Out, "  Prometheus     curl %s/metrics\n", base)
	fmt.Fprintf(d.o.Out, "  host agent     curl http://%s/v1/vms\n", d.o.HostAgentAddr)
	fmt.Fprintf(d.o.Out, "  logs           %s/manager.log, %s/host-agent.log\n", d.o.DataDir, d.o.DataDir)
	fmt.Fprintf(d.o.Out, "Ctrl-C stops everything.\n")
}
