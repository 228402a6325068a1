package fcstandin

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// ProcessOptions describe a stand-in run as a process of its own (the
// test/fcstandin program, built by testbuild.Firecracker), as a launcher
// starts Firecracker: a config file, a metrics FIFO made first.
type ProcessOptions struct {
	Bin   string // the stand-in binary, named firecracker
	Dir   string // holds api.sock, v.sock, metrics.fifo and config.json
	ID    string // --id
	Guest string // TCP address its vsock port 8080 forwards to
	VCPUs int    // default 2
	Busy  string // FCSTANDIN_VCPU_BUSY, "0.5,0" by default
	// BalloonTotal and BalloonAvailable (bytes) are the balloon's
	// statistics; 0 gives 256 MiB and 192 MiB.
	BalloonTotal, BalloonAvailable uint64
	// Properties, when set, make it the Firecracker after v1.16.1 whose
	// metrics configuration takes properties (PR #5983): its config file's
	// metrics block names the FIFO with them, instead of --metrics-path.
	Properties map[string]string
	// Metadata, when set, is put in its MMDS at start (--metadata).
	Metadata any
}

// StartProcess starts a stand-in; the test's cleanup kills it.
func StartProcess(t testing.TB, o ProcessOptions) *exec.Cmd {
	t.Helper()
	if o.VCPUs == 0 {
		o.VCPUs = 2
	}
	if o.Busy == "" {
		o.Busy = "0.5,0"
	}
	if o.BalloonTotal == 0 {
		o.BalloonTotal, o.BalloonAvailable = 256<<20, 192<<20
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	at := func(name string) string { return filepath.Join(o.Dir, name) }
	cfg := Config{MachineConfig: MachineConfig{VCPUCount: o.VCPUs, MemSizeMiB: int(o.BalloonTotal >> 20)},
		Balloon: &Balloon{DeflateOnOOM: true, StatsPollingIntervalS: 1},
		Vsock:   &Vsock{GuestCID: 3, UDSPath: at("v.sock")},
		Network: []NetworkInterface{{IfaceID: "eth0", HostDevName: "tap-" + o.ID}},
		Drives:  []Drive{{DriveID: "rootfs", PathOnHost: ptr(at("rootfs.ext4")), IsRootDevice: true}},
		Metrics: nil, // given by --metrics-path
	}
	args := []string{"--api-sock", at("api.sock"), "--id", o.ID, "--config-file", at("config.json")}
	env := []string{}
	if o.Properties != nil {
		cfg.Metrics = &Metrics{MetricsPath: at("metrics.fifo"), Properties: o.Properties}
		env = append(env, "FCSTANDIN_METRICS_PROPERTIES=1")
	} else {
		args = append(args, "--metrics-path", at("metrics.fifo"))
	}
	if o.Metadata != nil {
		md, _ := json.Marshal(o.Metadata)
		if err := os.WriteFile(at("metadata.json"), md, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--metadata", at("metadata.json"))
	}
	b, _ := json.Marshal(cfg)
	st := BalloonStats{TotalMemory: &o.BalloonTotal, AvailableMemory: &o.BalloonAvailable}
	bs, _ := json.Marshal(st)
	for name, data := range map[string][]byte{"config.json": b, "balloon.json": bs} {
		if err := os.WriteFile(at(name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(at("metrics.fifo"), 0o600); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	cmd := exec.Command(o.Bin, args...)
	cmd.Env = append(env, "FCSTANDIN_FORWARD=8080="+o.Guest, "FCSTANDIN_BALLOON_FILE="+at("balloon.json"),
		"FCSTANDIN_VCPU_BUSY="+o.Busy, "FCSTANDIN_NET_RATE="+strconv.Itoa(1000))
	// No Pdeathsig: it fires when the thread that started the process
	// exits, which Go's threads may do; the cleanup kills it.
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}
