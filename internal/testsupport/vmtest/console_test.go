package vmtest

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fakeGuest plays the guest's console shell on a Unix socket: for each command the
// harness writes it sends reply(id), where id is the command's marker number.
func fakeGuest(t *testing.T, reply func(id string) []string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "c.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	endLine := regexp.MustCompile(`^printf '\\036E(\d+):%d\\036\\n' \$\?$`)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			m := endLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			for _, chunk := range reply(m[1]) {
				if _, err := conn.Write([]byte(chunk)); err != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return sock
}

func TestConsoleRun(t *testing.T) {
	sock := fakeGuest(t, func(id string) []string {
		// Noise first (a kernel message, a stale marker), then the output split
		// across writes, even inside the markers.
		return []string{
			"[ 1.0] random: crng init done\n\x1eB0\x1e\nstale\n\x1eE0:0\x1e\n",
			"\x1eB" + id, "\x1e\nline one\nline ", "two\n\x1eE" + id + ":",
			"7\x1e\n",
		}
	})
	c := newConsole(sock)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ {
		out, status, err := c.run(ctx, "some command")
		if err != nil || out != "line one\nline two\n" || status != 7 {
			t.Fatalf("run #%d = %q, %d, %v; want \"line one\\nline two\\n\", 7, nil", i, out, status, err)
		}
	}
}

func TestConsoleRunTimeout(t *testing.T) {
	sock := fakeGuest(t, func(string) []string { return []string{"no markers at all\n"} })
	c := newConsole(sock)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.run(ctx, "sleep 1000")
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("run without an answer: err %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("run returned after %v, want about 200ms", d)
	}
}
