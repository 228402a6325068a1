package demo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// program is one of our programs running as a child, logging to a file.
type program struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startProgram runs bin with args, its stderr appended to logPath. The child has
// its own process group, so a Ctrl-C reaches only the launcher, which stops the
// children in order; it gets SIGTERM should the launcher die without doing so.
func startProgram(name, bin, logPath string, args ...string) (*program, error) {
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &program{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// stop sends SIGTERM and waits for the exit, sending SIGKILL after grace.
func (p *program) stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitHealthy polls url until it answers 200, p exits or ctx ends.
func (p *program) waitHealthy(ctx context.Context, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before answering %s", p.name, url)
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer %s within %v", p.name, url, within)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
