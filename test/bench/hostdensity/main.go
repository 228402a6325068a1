// Command hostdensity measures the host agent with many Firecracker VMs on
// its host: -vms stand-in VMs (internal/testsupport/fcstandin: the API on a
// Unix socket, metrics lines into a FIFO on FlushMetrics, balloon
// statistics, a hybrid-vsock muxer) served by this process, each guest
// agent simulated by test/bench/fleet behind the muxer. The host agent
// (--discover=false, the VMs attached through POST /v1/vms) reads every
// guest over vsock, flushes and reads every FIFO and asks every balloon once
// a second. It prints a Markdown table row: the host agent's CPU and RSS,
// per VM, and how fresh GET /v1/samples is. Loopback and Unix sockets only;
// bounded by -max. Bench-only.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fcmon/fcmon/internal/core/wire"
	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
	"github.com/fcmon/fcmon/test/bench/internal/machine"
)

type config struct {
	hostAgent, fleet string
	vms, windows     int
	window, warmup   time.Duration
	header           bool
}

func main() {
	var c config
	var maxRun time.Duration
	flag.StringVar(&c.hostAgent, "host-agent", "bin/host-agent", "host agent binary")
	flag.StringVar(&c.fleet, "fleet", "", "fleet binary (go build ./test/bench/fleet): the guest agents")
	flag.IntVar(&c.vms, "vms", 1000, "Firecracker stand-ins on the host")
	flag.IntVar(&c.windows, "windows", 3, "measurement windows (the median is reported)")
	flag.DurationVar(&c.window, "window", 8*time.Second, "length of a window")
	flag.DurationVar(&c.warmup, "warmup", 5*time.Second, "wait after every VM has its figures before measuring")
	flag.BoolVar(&c.header, "header", false, "print the table header")
	flag.DurationVar(&maxRun, "max", 4*time.Minute, "give up after this long")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), maxRun)
	defer cancel()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "hostdensity:", err)
		os.Exit(1)
	}
}

const firstGuest = "127.20.0.1"

func run(ctx context.Context, c config) error {
	if c.fleet == "" {
		return errors.New("-fleet is required")
	}
	if err := machine.RaiseNoFile(uint64(8*c.vms + 256)); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "hd-") // short: Unix socket paths have 108 bytes
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fleet := exec.Command(c.fleet, "-first", firstGuest, "-n", strconv.Itoa(c.vms), "-max", "10m")
	fleet.Stderr = os.Stderr
	out, err := fleet.StdoutPipe()
	if err != nil {
		return err
	}
	if err := fleet.Start(); err != nil {
		return err
	}
	defer machine.Stop(fleet)
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		return fmt.Errorf("fleet did not start: %w", err)
	}
	go io.Copy(io.Discard, out)

	vms, err := startVMs(dir, c.vms)
	if err != nil {
		return err
	}
	defer func() {
		for _, v := range vms {
			v.Close()
		}
	}()

	port, err := machine.FreePort()
	if err != nil {
		return err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	ha := exec.CommandContext(ctx, c.hostAgent, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--interval", "1s",
		"--discover=false", "--allow-paths", dir, "--max-vms", strconv.Itoa(c.vms), "--log-level", "warn")
	ha.Stderr = os.Stderr
	if err := ha.Start(); err != nil {
		return err
	}
	defer machine.Stop(ha)
	if err := waitHealthy(ctx, base); err != nil {
		return err
	}
	for i := range c.vms {
		if err := attach(ctx, base, dir, i); err != nil {
			return err
		}
	}
	if err := settle(ctx, base, c.vms); err != nil {
		return err
	}
	if !machine.Sleep(ctx, c.warmup) {
		return ctx.Err()
	}
	var cpus, simCPU, rss, p99 []float64
	var last census
	for range c.windows {
		m := machine.StartCPU(ha.Process.Pid)
		sim := machine.StartCPU(os.Getpid(), fleet.Process.Pid)
		if !machine.Sleep(ctx, c.window) {
			return ctx.Err()
		}
		cpus = append(cpus, m.Percent())
		simCPU = append(simCPU, sim.Percent())
		rss = append(rss, float64(machine.RSSKB(ha.Process.Pid)))
		if last, err = count(ctx, base); err != nil {
			return err
		}
		p99 = append(p99, last.ageP99)
	}
	cpu, kib := machine.Median(cpus), machine.Median(rss)
	if c.header {
		fmt.Println("| VMs | host agent CPU (of one core) | host agent RSS | per VM | guest age p99 | VMs with guest / balloon / Firecracker metrics / process | simulation CPU | load 1m |")
		fmt.Println("|---|---|---|---|---|---|---|---|")
	}
	fmt.Printf("| %d | %.1f %% | %.1f MiB | %.0f µs CPU a second, %.1f KiB | %.2f s | %d / %d / %d / %d | %.0f %% | %.2f |\n",
		c.vms, cpu, kib/1024, cpu/100*1e6/float64(c.vms), kib/float64(c.vms), machine.Median(p99),
		last.guest, last.balloon, last.firecracker, last.process, machine.Median(simCPU), machine.Load1())
	return nil
}

// startVMs serves n stand-ins in dir, VM i's vsock port 8080 forwarded to
// the fleet's guest i.
func startVMs(dir string, n int) ([]*fcstandin.VM, error) {
	addr := netip.MustParseAddr(firstGuest)
	vms := make([]*fcstandin.VM, 0, n)
	for i := range n {
		d := vmDir(dir, i)
		if err := os.Mkdir(d, 0o755); err != nil {
			return vms, err
		}
		if err := syscall.Mkfifo(filepath.Join(d, "metrics.fifo"), 0o600); err != nil {
			return vms, err
		}
		id := vmID(i)
		var cnt atomic.Uint64
		cfg := fcstandin.Config{ID: id,
			MachineConfig: fcstandin.MachineConfig{VCPUCount: 2, MemSizeMiB: 512},
			Balloon:       &fcstandin.Balloon{StatsPollingIntervalS: 1},
			Vsock:         &fcstandin.Vsock{GuestCID: 3, UDSPath: filepath.Join(d, "v.sock")},
			Network:       []fcstandin.NetworkInterface{{IfaceID: "eth0", HostDevName: "tap" + strconv.Itoa(i)}},
			Drives:        []fcstandin.Drive{{DriveID: "rootfs", PathOnHost: ptrTo("/dev/null"), IsRootDevice: true}},
			Metrics:       &fcstandin.Metrics{MetricsPath: filepath.Join(d, "metrics.fifo")},
		}
		src := fcstandin.Sources{
			Balloon: func() (fcstandin.BalloonStats, bool) {
				t := uint64(time.Now().Unix())
				total, avail, free := uint64(512<<20), (200+t%100)<<20, (100+t%50)<<20
				return fcstandin.BalloonStats{TotalMemory: &total, AvailableMemory: &avail, FreeMemory: &free}, true
			},
			Counters: func() fcstandin.Counters {
				k := cnt.Add(1)
				return fcstandin.Counters{
					Net:   map[string]fcstandin.NetCounters{"eth0": {RxBytes: k * 1500, TxBytes: k * 900, RxPackets: k, TxPackets: k}},
					Block: map[string]fcstandin.BlockCounters{"rootfs": {ReadBytes: k * 4096, Reads: k}},
				}
			},
		}
		v, err := fcstandin.Start(cfg, fcstandin.Options{APISock: filepath.Join(d, "api.sock"), Running: true, Sources: src,
			Forward: map[uint32]string{wire.DefaultGuestPort: net.JoinHostPort(addr.String(), "8080")}})
		if err != nil {
			return vms, err
		}
		vms = append(vms, v)
		addr = addr.Next()
	}
	return vms, nil
}

func vmDir(dir string, i int) string { return filepath.Join(dir, strconv.Itoa(i)) }
func vmID(i int) string              { return fmt.Sprintf("vm-%05d", i) }

// attach registers VM i as a launcher would: its process (this one), API
// socket and metrics FIFO; the vsock socket is learnt from the API.
func attach(ctx context.Context, base, dir string, i int) error {
	d := vmDir(dir, i)
	body, _ := json.Marshal(wire.VMConfig{ID: vmID(i), PID: os.Getpid(),
		APISocket: filepath.Join(d, "api.sock"), MetricsFIFO: filepath.Join(d, "metrics.fifo")})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/vms", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("attaching %s: %s %s", vmID(i), resp.Status, b)
	}
	return nil
}

// census is what one GET /v1/samples shows.
type census struct {
	vms, guest, balloon, firecracker, process int
	ageP99                                    float64 // seconds, of the guest documents
}

func count(ctx context.Context, base string) (census, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/samples", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return census{}, err
	}
	defer resp.Body.Close()
	var doc wire.HostSamples
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return census{}, fmt.Errorf("GET /v1/samples: %w", err)
	}
	c := census{vms: len(doc.VMs)}
	var ages []float64
	for _, v := range doc.VMs {
		if v.Guest != nil {
			c.guest++
			ages = append(ages, float64(v.Guest.AgeMs)/1000)
		}
		if v.Balloon != nil {
			c.balloon++
		}
		if v.Network != nil && v.Block != nil {
			c.firecracker++
		}
		if v.Process != nil {
			c.process++
		}
	}
	c.ageP99 = machine.Percentile(ages, 99)
	return c, nil
}

// settle waits until every VM has its guest, balloon and Firecracker
// figures.
func settle(ctx context.Context, base string, n int) error {
	var c census
	for ctx.Err() == nil {
		var err error
		if c, err = count(ctx, base); err == nil && c.vms == n && c.guest == n && c.balloon == n && c.firecracker == n {
			return nil
		}
		machine.Sleep(ctx, time.Second)
	}
	return fmt.Errorf("not every VM has its figures (%+v): %w", c, ctx.Err())
}

func waitHealthy(ctx context.Context, base string) error {
	for ctx.Err() == nil {
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		machine.Sleep(ctx, 100*time.Millisecond)
	}
	return ctx.Err()
}

func ptrTo(s string) *string { return &s }
