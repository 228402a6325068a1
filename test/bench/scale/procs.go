package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fcmon/fcmon/test/bench/internal/machine"
)

// firstGuest is the fleet's first address; VM i lives at firstGuest + i.
// Simulated host agent i lives at firstHost + i, port 9091.
const (
	firstGuest = "127.10.0.1"
	firstHost  = "127.30.0.1"
)

// perFleet is the most VMs one fleet process serves: each costs a
// listener and a connection, and without CAP_SYS_RESOURCE a process cannot
// go beyond the hard limit of open files (often 20,000 or less).
const perFleet = 5000

// fleet is the running fleet processes, perFleet VMs each.
type fleet struct{ cmds []*exec.Cmd }

func startFleet(ctx context.Context, bin string, n, perHost int) (*fleet, error) {
	if bin == "" {
		return nil, fmt.Errorf("-fleet is required")
	}
	f := &fleet{}
	if perHost > 0 { // one process serves every simulated host agent
		cmd, err := startProcess(bin, "-first", firstHost, "-n", strconv.Itoa(n/perHost), "-per-host", strconv.Itoa(perHost),
			"-port", "9091", "-max", "20m")
		if err != nil {
			return nil, err
		}
		f.cmds = append(f.cmds, cmd)
		return f, nil
	}
	for from := 0; from < n; from += perFleet {
		cmd, err := startFleetPart(bin, from, min(n-from, perFleet))
		if err != nil {
			f.stop()
			return nil, err
		}
		f.cmds = append(f.cmds, cmd)
	}
	return f, nil
}

func startFleetPart(bin string, from, n int) (*exec.Cmd, error) {
	return startProcess(bin, "-first", guestIP(from), "-n", strconv.Itoa(n), "-max", "15m")
}

// startProcess starts a fleet process and waits for its "ready" line.
func startProcess(bin string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("fleet did not start: %w", err)
	}
	go io.Copy(io.Discard, out)
	_ = line
	return cmd, nil
}

func (f *fleet) pids() []int {
	var p []int
	for _, c := range f.cmds {
		p = append(p, c.Process.Pid)
	}
	return p
}

func (f *fleet) stop() {
	for _, c := range f.cmds {
		machine.Stop(c)
	}
}

// manager is a running manager with a client for its API.
type manager struct {
	cmd    *exec.Cmd
	base   string
	http   *http.Client
	logBuf *managerLog
}

func startManager(ctx context.Context, c config, dir string) (*manager, error) {
	port, err := machine.FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(c.managerBin, "--listen", addr, "--database-url", c.dbURL,
		"--data-dir", filepath.Join(dir, "data"), "--poll-interval", "1s",
		"--guest-allow-cidrs", "127.0.0.0/8", "--log-level", "debug")
	cmd.Env = append(os.Environ(), "DATABASE_URL=")
	logs := &managerLog{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &manager{cmd: cmd, base: "http://" + addr, logBuf: logs,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := m.http.Get(m.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return m, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			m.stop()
			return nil, fmt.Errorf("manager not healthy after 30s: %w\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (m *manager) pid() int { return m.cmd.Process.Pid }

func (m *manager) stop() { machine.Stop(m.cmd) }

// warnings returns what the manager logged as going wrong, cut to its
// first lines.
func (m *manager) warnings() string {
	s := m.logBuf.String()
	lines := bytes.SplitAfter([]byte(s), []byte("\n"))
	if len(lines) > 20 {
		return string(bytes.Join(lines[:20], nil)) + fmt.Sprintf("... %d lines in all\n", len(lines))
	}
	return s
}
