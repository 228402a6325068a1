// Command fcstandin is a Firecracker stand-in for tests and the demo: built
// as a binary named firecracker, so its comm is Firecracker's, it takes
// Firecracker's flags and serves its API, metrics and vsock muxer (see
// internal/testsupport/fcstandin). What Firecracker has no flag for comes
// from the environment:
//
//	FCSTANDIN_FORWARD=8080=127.0.0.1:18081   guest vsock ports and the TCP addresses behind them
//	FCSTANDIN_BALLOON_FILE=path              balloon statistics (JSON, bytes), read at each request
//	FCSTANDIN_VCPU_BUSY=0.5,0                busy share of each fc_vcpu thread
//	FCSTANDIN_NET_RATE=1000                  bytes per second each interface sends and receives
//	FCSTANDIN_EXIT_AFTER=5s                  exit on its own after that long (code FCSTANDIN_EXIT_CODE)
//	FCSTANDIN_METRICS_PERIOD=2s              the period of the metrics lines it writes by itself (Firecracker's: 60s)
//	FCSTANDIN_API_SOCK=path                  without --api-sock, listen there instead of /run/firecracker.socket
//	                                         (a process whose command line does not name its API socket)
//	FCSTANDIN_METRICS_PROPERTIES=1           be the Firecracker after v1.16.1 whose metrics configuration takes
//	                                         emit_id and properties (PR #5983), written on every line
//
// SIGUSR1 makes it touch all of its guest's memory (mem_size_mib), as
// Firecracker does when its guest uses all it has: over a memory cgroup's
// limit, the host kernel's OOM killer ends it.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fcmon/fcmon/internal/testsupport/fcstandin"
)

func main() {
	fs := flag.NewFlagSet("firecracker", flag.ContinueOnError)
	apiSock := fs.String("api-sock", "/run/firecracker.socket", "Path to unix domain socket used by the API.")
	id := fs.String("id", "anonymous-instance", "MicroVM unique identifier.")
	configFile := fs.String("config-file", "", "Path to a file that contains the microVM configuration in JSON format.")
	metricsPath := fs.String("metrics-path", "", "Path to a fifo or a file used for configuring the metrics on startup.")
	noAPI := fs.Bool("no-api", false, "Optional parameter which allows starting and using a microVM without an active API socket.")
	for _, name := range []string{"boot-timer", "no-seccomp", "show-level", "show-log-origin", "describe-snapshot", "version"} {
		fs.Bool(name, false, "")
	}
	for _, name := range []string{"level", "log-path", "seccomp-filter", "start-time-us", "start-time-cpu-us",
		"parent-cpu-time-us", "http-api-max-payload-size", "mmds-size-limit", "module"} {
		fs.String(name, "", "")
	}
	metadata := fs.String("metadata", "", "Path to a file that contains metadata in JSON format to add to the mmds.")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(1)
	}
	if p := os.Getenv("FCSTANDIN_API_SOCK"); p != "" && !flagGiven(fs, "api-sock") {
		*apiSock = p
	}
	if err := run(*apiSock, *id, *configFile, *metricsPath, *metadata, *noAPI); err != nil {
		fmt.Fprintln(os.Stderr, "firecracker (stand-in):", err)
		os.Exit(1)
	}
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

func run(apiSock, id, configFile, metricsPath, metadata string, noAPI bool) error {
	cfg := fcstandin.Config{MachineConfig: fcstandin.MachineConfig{VCPUCount: 1, MemSizeMiB: 128}}
	running := false
	if configFile != "" {
		b, err := os.ReadFile(configFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return fmt.Errorf("config file %s: %w", configFile, err)
		}
		running = true // with a config file Firecracker boots at once
	}
	cfg.ID = id
	if metricsPath != "" {
		cfg.Metrics = &fcstandin.Metrics{MetricsPath: metricsPath}
	}
	if noAPI {
		return errors.New("--no-api is not supported by the stand-in")
	}
	os.Remove(apiSock) // Firecracker refuses an existing path; the stand-in is kinder to restarts
	forward, err := parseForward(os.Getenv("FCSTANDIN_FORWARD"))
	if err != nil {
		return err
	}
	started := time.Now()
	rate, _ := strconv.ParseFloat(os.Getenv("FCSTANDIN_NET_RATE"), 64)
	period, _ := time.ParseDuration(os.Getenv("FCSTANDIN_METRICS_PERIOD"))
	vm, err := fcstandin.Start(cfg, fcstandin.Options{APISock: apiSock, Forward: forward, Running: running, MetricsPeriod: period,
		MetricsProperties: os.Getenv("FCSTANDIN_METRICS_PROPERTIES") == "1",
		Sources: fcstandin.Sources{
			Balloon:  balloonFile(os.Getenv("FCSTANDIN_BALLOON_FILE")),
			Counters: func() fcstandin.Counters { return steady(cfg, rate, time.Since(started)) },
		}})
	if err != nil {
		return err
	}
	defer vm.Close()
	if metadata != "" { // Firecracker puts it in MMDS at start (main.rs, --metadata)
		b, err := os.ReadFile(metadata)
		if err != nil {
			return err
		}
		var data any
		if err := json.Unmarshal(b, &data); err != nil {
			return fmt.Errorf("--metadata %s: %w", metadata, err)
		}
		vm.SetMMDS(data)
	}
	stop := make(chan struct{})
	fcstandin.VCPUs(cfg.MachineConfig.VCPUCount, busy(os.Getenv("FCSTANDIN_VCPU_BUSY")), stop)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go touchGuestMemoryOnSignal(cfg.MachineConfig.MemSizeMiB)
	// Firecracker's handlers of fatal signals: a last line, then its code.
	fatal := make(chan os.Signal, 1)
	for _, s := range fcstandin.FatalSignals() {
		signal.Notify(fatal, s)
	}
	var exitAfter <-chan time.Time
	if d, err := time.ParseDuration(os.Getenv("FCSTANDIN_EXIT_AFTER")); err == nil {
		exitAfter = time.After(d)
	}
	select {
	case <-sig:
	case s := <-fatal:
		code, _ := vm.Fatal(s.(syscall.Signal))
		os.Exit(code)
	case <-exitAfter:
		close(stop)
		vm.Close()
		code, _ := strconv.Atoi(os.Getenv("FCSTANDIN_EXIT_CODE"))
		os.Exit(code)
	}
	close(stop)
	return nil
}

var guestMemory []byte // kept reachable: the guest's memory, once touched

func touchGuestMemoryOnSignal(mib int) {
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	<-usr1
	guestMemory = make([]byte, mib<<20)
	for i := 0; i < len(guestMemory); i += 4096 {
		guestMemory[i] = 1
	}
}

func parseForward(s string) (map[uint32]string, error) {
	out := map[uint32]string{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		port, addr, ok := strings.Cut(f, "=")
		p, err := strconv.ParseUint(port, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("FCSTANDIN_FORWARD: %q is not PORT=HOST:PORT", f)
		}
		out[uint32(p)] = addr
	}
	return out, nil
}

func balloonFile(path string) func() (fcstandin.BalloonStats, bool) {
	if path == "" {
		return nil
	}
	return func() (fcstandin.BalloonStats, bool) {
		var st fcstandin.BalloonStats
		b, err := os.ReadFile(path)
		if err != nil || json.Unmarshal(b, &st) != nil {
			return st, false
		}
		return st, true
	}
}

func busy(s string) func(int) float64 {
	shares := map[int]float64{}
	for i, f := range strings.Split(s, ",") {
		if v, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil {
			shares[i] = v
		}
	}
	return func(i int) float64 { return shares[i] }
}

// steady counts traffic at rate bytes per second on every interface and
// drive, so metrics lines carry figures that move.
func steady(cfg fcstandin.Config, rate float64, up time.Duration) fcstandin.Counters {
	total := uint64(rate * up.Seconds())
	c := fcstandin.Counters{Net: map[string]fcstandin.NetCounters{}, Block: map[string]fcstandin.BlockCounters{}}
	for _, n := range cfg.Network {
		c.Net[n.IfaceID] = fcstandin.NetCounters{RxBytes: total, TxBytes: total / 2, RxPackets: total / 1000, TxPackets: total / 2000}
	}
	for _, d := range cfg.Drives {
		c.Block[d.DriveID] = fcstandin.BlockCounters{ReadBytes: total * 4, WriteBytes: total * 2, Reads: total / 1000, Writes: total / 2000}
	}
	return c
}
