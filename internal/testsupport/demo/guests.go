package demo

import (
	_ "embed"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/fcmon/fcmon/internal/testsupport/vmtest"
)

// StressScript is the integration guide's stress loop, adapted to guests that reach
// nothing outside their VM (see the comment at its top). It takes the number of
// seconds to run as its argument.
//
//go:embed stress.sh
var StressScript []byte

// StressPath is where a stressed guest holds StressScript.
const StressPath = "/usr/local/bin/stress.sh"

// Guest describes one demo guest.
type Guest struct {
	Name      string
	CPUs      int
	MemoryMiB int
	// DiskMiB, when positive, gives the guest a scratch disk (/dev/vda).
	DiskMiB int
	// Stress runs StressScript in the guest once it is up.
	Stress bool
}

// Guests are the two guests make run boots: one running the stress loop on its
// single vCPU, one idle, with different memory sizes so they tell apart.
var Guests = []Guest{
	{Name: "demo-stress", CPUs: 1, MemoryMiB: 256, DiskMiB: 64, Stress: true},
	{Name: "demo-idle", CPUs: 2, MemoryMiB: 192},
}

// KernelArgs are the boot arguments that make the guest agent of VM id register
// itself with the manager listening on 127.0.0.1:managerPort — which the guest
// reaches at vmtest.ServiceIP:managerPort through QEMU's guest forward — and
// advertise 127.0.0.1:hostPort, the host forward to its own port 8080, as its
// address, since the guest's 10.0.2.15 is not reachable from the host.
func KernelArgs(id string, managerPort, hostPort int) []string {
	return []string{
		fmt.Sprintf("guest_agent.register_url=http://%s:%d", vmtest.ServiceIP, managerPort),
		"guest_agent.vm_id=" + id,
		fmt.Sprintf("guest_agent.advertise=127.0.0.1:%d", hostPort),
	}
}

// VMConfig is the QEMU guest for g: an isolated network (restrict=on) whose only
// way out is the forward to the manager, the agent started by /init, the stress
// script written into dir and put into the guest when g.Stress.
func (g Guest) VMConfig(agent, dir, id string, managerPort, hostPort int) (vmtest.Config, error) {
	cfg := vmtest.Config{
		Agent:         agent,
		StartAgent:    true,
		CPUs:          g.CPUs,
		MemoryMiB:     g.MemoryMiB,
		DiskMiB:       g.DiskMiB,
		HostPort:      hostPort,
		KernelArgs:    KernelArgs(id, managerPort, hostPort),
		Restrict:      true,
		GuestForwards: []vmtest.GuestForward{{Port: managerPort, HostPort: managerPort}},
	}
	return cfg, g.addStress(&cfg, dir)
}

// FirecrackerConfig is the QEMU guest for g as make run boots it behind a
// Firecracker stand-in: an isolated network (restrict=on) with no way out,
// the agent started by /init on its defaults (TCP and vsock port 8080), its
// port 8080 forwarded to 127.0.0.1:hostPort for the docs' commands, and the
// stress script when g.Stress.
func (g Guest) FirecrackerConfig(agent, dir string, hostPort int) (vmtest.Config, error) {
	cfg := vmtest.Config{
		Agent:      agent,
		StartAgent: true,
		AgentArgs:  []string{"--interval", "1s"},
		CPUs:       g.CPUs,
		MemoryMiB:  g.MemoryMiB,
		DiskMiB:    g.DiskMiB,
		HostPort:   hostPort,
		Restrict:   true,
	}
	return cfg, g.addStress(&cfg, dir)
}

// addStress puts the stress script into cfg's guest when g.Stress,
// written into dir.
func (g Guest) addStress(cfg *vmtest.Config, dir string) error {
	if !g.Stress {
		return nil
	}
	script := filepath.Join(dir, "stress.sh")
	if err := os.WriteFile(script, StressScript, 0o755); err != nil {
		return fmt.Errorf("writing the stress script: %w", err)
	}
	cfg.Files = map[string]string{StressPath: script}
	return nil
}

// StressCommand starts the stress loop in the background of a guest for seconds.
func StressCommand(seconds int) string {
	return fmt.Sprintf("%s %d >/dev/null 2>&1 &", StressPath, seconds)
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
