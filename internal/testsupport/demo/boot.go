package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// bootedGuest is a demo guest that is up.
type bootedGuest struct {
	Guest
	id string // its id in the manager, once its host agent reported it
	vm *fcstandin.QEMUVM
}

// bootGuests boots every guest of Guests at once, each a QEMU guest behind a
// Firecracker stand-in in its own directory below d.fcDir, where the host
// agent discovers it. Nothing is registered by hand.
func (d *demo) bootGuests(ctx context.Context, work string) ([]bootedGuest, error) {
	names := make([]string, len(Guests))
	for i, g := range Guests {
		names[i] = fmt.Sprintf("%s (%d vCPU, %d MiB)", g.Name, g.CPUs, g.MemoryMiB)
	}
	d.say("booting %s under QEMU (TCG, a few seconds each), each behind a Firecracker stand-in", strings.Join(names, " and "))
	out := make([]bootedGuest, len(Guests))
	errs := make([]error, len(Guests))
	var wg sync.WaitGroup
	for i, g := range Guests {
		wg.Go(func() { out[i], errs[i] = d.bootGuest(ctx, g, work) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *demo) bootGuest(ctx context.Context, g Guest, work string) (bootedGuest, error) {
	b := bootedGuest{Guest: g}
	hostPort, err := d.agentPort(g)
	if err != nil {
		return b, err
	}
	dir := filepath.Join(work, g.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return b, err
	}
	cfg, err := g.FirecrackerConfig(filepath.Join(d.o.Bin, "guest-agent"), dir, hostPort)
	if err != nil {
		return b, err
	}
	q, err := fcstandin.LaunchQEMU(ctx, fcstandin.QEMUOptions{ID: g.Name, Dir: filepath.Join(d.fcDir, g.Name), WorkDir: dir, Guest: cfg})
	if err != nil {
		return b, fmt.Errorf("%s: %w", g.Name, err)
	}
	b.vm = q
	d.mu.Lock()
	d.vms = append(d.vms, q)
	d.mu.Unlock()
	what := ""
	if g.Stress {
		if _, err := q.Guest.Run(ctx, StressCommand(d.o.StressSeconds)); err != nil {
			return b, fmt.Errorf("%s: starting the stress loop: %w", g.Name, err)
		}
		what = "; stress loop started"
	}
	d.say("%s booted in %v: QEMU pid %d seen as Firecracker --id %s (API %s, vsock %s); its agent also at 127.0.0.1:%d%s",
		g.Name, q.Guest.BootTime.Round(100*time.Millisecond), q.PID(), g.Name, q.APISock, q.VsockUDS, hostPort, what)
	return b, nil
}

// dropOld removes the VMs earlier make runs registered by hand (before the
// demo's guests were found by the host agent): the VM of an agent on this
// machine's /proc (demo-vm-id) and guests registered with their address
// (demo-<name>.id naming a VM without a host).
func (d *demo) dropOld(ctx context.Context) {
	client := NewClient("http://" + d.o.ManagerAddr)
	paths := []string{filepath.Join(d.o.DataDir, "demo-vm-id")}
	for _, g := range Guests {
		paths = append(paths, d.idPath(g.Name))
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		id := strings.TrimSpace(string(data))
		var vm wire.VM
		err = client.Do(ctx, "GET", "/v1/vms/"+id, nil, &vm, http.StatusOK)
		if err == nil && vm.HostID != "" {
			continue // found by the host agent: this run's own
		}
		err = client.Do(ctx, "DELETE", "/v1/vms/"+id, nil, nil, 204)
		if se := (*StatusError)(nil); err == nil || errors.As(err, &se) && se.Status == 404 {
			os.Remove(path)
			d.say("removed a VM an earlier make run registered by hand (%s)", id)
		}
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

// idPath is where the demo writes a guest's id in the manager, for the docs'
// commands.
func (d *demo) idPath(name string) string { return filepath.Join(d.o.DataDir, "demo-"+name+".id") }

// waitSamples waits until the host agent has found every guest, the manager
// lists it, and its samples come from its guest agent over vsock; it writes
// each guest's id to the data folder.
func (d *demo) waitSamples(ctx context.Context, guests []bootedGuest) error {
	client := NewClient("http://" + d.o.ManagerAddr)
	for i := range guests {
		g := &guests[i]
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		id, err := client.WaitForName(wctx, g.Name)
		if err != nil {
			cancel()
			return fmt.Errorf("%s: the host agent did not report it to the manager: %w (see host-agent.log)", g.Name, err)
		}
		g.id = id
		if err := os.WriteFile(d.idPath(g.Name), []byte(id+"\n"), 0o600); err != nil {
			cancel()
			return err
		}
		s, err := client.WaitFor(wctx, g.id, func(s wire.CombinedSample) bool {
			return s.Source == wire.SourceGuest
		})
		cancel()
		if err != nil {
			log, _ := g.vm.Guest.Run(ctx, "tail -n 20 "+vmtest.GuestAgentLog)
			return fmt.Errorf("%s: no sample from its guest agent: %w; latest %+v; agent log:\n%s", g.Name, err, s, log)
		}
		d.say("%s: found by the host agent, read over vsock (source guest, memory total %d MiB)",
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
	fmt.Fprintf(d.o.Out, "  host agents    curl %s/v1/hosts\n", base)
	fmt.Fprintf(d.o.Out, "  Prometheus     curl %s/metrics\n", base)
	fmt.Fprintf(d.o.Out, "  host agent     curl http://%s/v1/samples\n", d.o.HostAgentAddr)
	fmt.Fprintf(d.o.Out, "  logs           %s/manager.log, %s/host-agent.log\n", d.o.DataDir, d.o.DataDir)
	fmt.Fprintf(d.o.Out, "The Firecracker processes are stand-ins (QEMU behind Firecracker's API and vsock): see README.\n")
	fmt.Fprintf(d.o.Out, "Ctrl-C stops everything.\n")
}
