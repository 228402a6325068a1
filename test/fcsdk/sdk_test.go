// Package fcsdk drives fcmon's Firecracker stand-in with Firecracker's own
// Go SDK (github.com/firecracker-microvm/firecracker-go-sdk v1.0.0), an
// independent client: its API client and its vsock dialer must get the
// answers Firecracker gives them. It is a module of its own, so the SDK
// and its dependencies stay out of fcmon's go.mod; it builds the stand-in
// from the main module.
package fcsdk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	firecracker "github.com/firecracker-microvm/firecracker-go-sdk"
	models "github.com/firecracker-microvm/firecracker-go-sdk/client/models"
	ops "github.com/firecracker-microvm/firecracker-go-sdk/client/operations"
	"github.com/firecracker-microvm/firecracker-go-sdk/vsock"
	"github.com/sirupsen/logrus"
)

var standIn string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fcsdk-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	standIn = filepath.Join(dir, "firecracker")
	build := exec.Command("go", "build", "-o", standIn, "./test/fcstandin")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the Firecracker stand-in: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// vm is a running stand-in.
type vm struct {
	dir, api, vsock, fifo string
	lines                 *bufio.Reader
}

// start runs the stand-in as Firecracker runs with --config-file (booted
// at once), a vsock device whose port 52 leads to echo, a balloon with
// statistics and a metrics FIFO; with config false it waits, not booted,
// for its API to configure it.
func start(t *testing.T, booted bool, echo string) *vm {
	t.Helper()
	dir, err := os.MkdirTemp("", "fc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	v := &vm{dir: dir, api: filepath.Join(dir, "api.sock"), vsock: filepath.Join(dir, "v.sock"), fifo: filepath.Join(dir, "metrics.fifo")}
	args := []string{"--id", "sdk-vm", "--api-sock", v.api}
	if booted {
		if err := syscall.Mkfifo(v.fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(v.fifo, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		v.lines = bufio.NewReader(f)
		cfg, _ := json.Marshal(map[string]any{
			"machine-config": map[string]any{"vcpu_count": 2, "mem_size_mib": 256},
			"vsock":          map[string]any{"guest_cid": 3, "uds_path": v.vsock},
			"balloon":        map[string]any{"amount_mib": 64, "deflate_on_oom": true, "stats_polling_interval_s": 1},
			"metrics":        map[string]any{"metrics_path": v.fifo},
		})
		p := filepath.Join(dir, "vm.json")
		if err := os.WriteFile(p, cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config-file", p)
	}
	cmd := exec.Command(standIn, args...)
	cmd.Env = []string{"FCSTANDIN_FORWARD=52=" + echo, "FCSTANDIN_METRICS_PERIOD=1h"}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(v.api); err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatal("the stand-in's API socket did not appear")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func client(v *vm) *firecracker.Client {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return firecracker.NewClient(v.api, logrus.NewEntry(log), false)
}

// echoServer is a TCP server on loopback that sends back each line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// TestSDKAgainstABootedVM: a VM started with --config-file, as the SDK's
// users read it.
func TestSDKAgainstABootedVM(t *testing.T) {
	v := start(t, true, echoServer(t))
	c := client(v)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	info, err := c.GetInstanceInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := info.Payload; p.ID == nil || *p.ID != "sdk-vm" || p.State == nil || *p.State != models.InstanceInfoStateRunning ||
		p.AppName == nil || *p.AppName != "Firecracker" || p.VmmVersion == nil || *p.VmmVersion != "1.16.1" {
		t.Errorf("instance info: %+v", p)
	}
	ver, err := c.GetFirecrackerVersion(ctx)
	if err != nil || ver.Payload.FirecrackerVersion == nil || *ver.Payload.FirecrackerVersion != "1.16.1" {
		t.Errorf("version: %+v %v", ver, err)
	}
	mc, err := c.GetMachineConfiguration()
	if err != nil || mc.Payload.VcpuCount == nil || *mc.Payload.VcpuCount != 2 || mc.Payload.MemSizeMib == nil || *mc.Payload.MemSizeMib != 256 {
		t.Errorf("machine config: %+v %v", mc, err)
	}

	// FlushMetrics writes a line to the FIFO (the periodic writer waits an hour).
	if _, err := c.CreateSyncAction(ctx, &models.InstanceActionInfo{ActionType: firecracker.String("FlushMetrics")}); err != nil {
		t.Fatalf("FlushMetrics: %v", err)
	}
	for {
		line, err := v.lines.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a metrics line that is not JSON: %q", line)
		}
		if _, ok := m["utc_timestamp_ms"]; ok {
			break
		}
	}

	bc, err := c.DescribeBalloonConfig(ctx)
	if err != nil || bc.Payload.AmountMib == nil || *bc.Payload.AmountMib != 64 || bc.Payload.StatsPollingIntervals != 1 {
		t.Errorf("balloon config: %+v %v", bc, err)
	}
	bs, err := c.DescribeBalloonStats(ctx)
	if err != nil || bs.Payload.TargetMib == nil || *bs.Payload.TargetMib != 64 {
		t.Errorf("balloon statistics: %+v %v", bs, err)
	}

	// A change Firecracker refuses after boot: 400 with its fault_message.
	_, err = c.PutMachineConfiguration(ctx, &models.MachineConfiguration{VcpuCount: firecracker.Int64(4), MemSizeMib: firecracker.Int64(512)})
	var bad *ops.PutMachineConfigurationBadRequest
	if !errors.As(err, &bad) || bad.Payload == nil || !strings.Contains(bad.Payload.FaultMessage, "not supported after starting the microVM") {
		t.Errorf("PUT /machine-config after boot: %v", err)
	}

	// The SDK's vsock dialer: CONNECT 52, then a byte stream to port 52.
	conn, err := vsock.DialContext(ctx, v.vsock, 52, vsock.WithRetryTimeout(5*time.Second))
	if err != nil {
		t.Fatalf("vsock dial: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("hello over vsock\n")); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || got != "hello over vsock\n" {
		t.Errorf("echo over vsock: %q %v", got, err)
	}
	// A port nothing listens on: Firecracker closes each attempt without
	// "OK", and the SDK's dialer (v1.0.0 retries such an answer until its
	// context ends, whatever WithRetryTimeout says) never connects.
	short, stop := context.WithTimeout(ctx, 3*time.Second)
	defer stop()
	if c, err := vsock.DialContext(short, v.vsock, 53); err == nil {
		c.Close()
		t.Error("a vsock port with nothing behind it was connected to")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("port 53: %v, want the dialer to retry until its deadline", err)
	}
}

// TestSDKConfiguresBeforeBoot: before InstanceStart the SDK's PUTs are
// taken and read back; an invalid one gets a 400 with a fault_message.
func TestSDKConfiguresBeforeBoot(t *testing.T) {
	v := start(t, false, echoServer(t))
	c := client(v)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := c.GetInstanceInfo(ctx)
	if err != nil || *info.Payload.State != models.InstanceInfoStateNotStarted {
		t.Fatalf("before boot: %+v %v", info, err)
	}
	if _, err := c.PutMachineConfiguration(ctx, &models.MachineConfiguration{VcpuCount: firecracker.Int64(3), MemSizeMib: firecracker.Int64(384)}); err != nil {
		t.Fatalf("PUT /machine-config: %v", err)
	}
	mc, err := c.GetMachineConfiguration()
	if err != nil || *mc.Payload.VcpuCount != 3 || *mc.Payload.MemSizeMib != 384 {
		t.Errorf("read back: %+v %v", mc, err)
	}
	_, err = c.PutMachineConfiguration(ctx, &models.MachineConfiguration{VcpuCount: firecracker.Int64(0), MemSizeMib: firecracker.Int64(384)})
	var bad *ops.PutMachineConfigurationBadRequest
	if !errors.As(err, &bad) || bad.Payload == nil || bad.Payload.FaultMessage == "" {
		t.Errorf("0 vCPUs: %v", err)
	} else {
		t.Logf("0 vCPUs: %s", bad.Payload.FaultMessage)
	}
	if _, err := c.PutGuestVsock(ctx, &models.Vsock{GuestCid: firecracker.Int64(3), UdsPath: firecracker.String(v.vsock)}); err != nil {
		t.Errorf("PUT /vsock: %v", err)
	}
}
