package vmtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestRestrictedNetwork boots an isolated guest: it reaches a host service through
// its guest forward and pings QEMU's host address, but a host service on loopback
// that was not forwarded is out of its reach. Only loopback addresses are involved.
func TestRestrictedNetwork(t *testing.T) {
	t.Parallel()
	served := serveText(t, "forwarded\n")
	hidden := serveText(t, "hidden\n")
	vm := Boot(t, Config{
		Restrict:      true,
		GuestForwards: []GuestForward{{Port: 8099, HostPort: served}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	// busybox's nc, not its wget, which crashes in the static build's resolver.
	get := "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 %s %d"
	out, err := vm.Run(ctx, fmt.Sprintf(get, ServiceIP, 8099))
	if err != nil || !strings.HasSuffix(out, "\r\n\r\nforwarded\n") {
		t.Errorf("guest GET of the forwarded service = %q, %v; want a response with body \"forwarded\\n\"", out, err)
	}
	if out, err := vm.Run(ctx, "ping -c 2 -W 2 "+HostIP); err != nil {
		t.Errorf("guest ping %s: %v\n%s", HostIP, err, out)
	}
	out, err = vm.Run(ctx, fmt.Sprintf(get, HostIP, hidden))
	if strings.Contains(out, "hidden") {
		t.Errorf("guest reached a host port that was not forwarded: %q, %v", out, err)
	}
}

// serveText serves body on a free 127.0.0.1 port until the test ends and returns the port.
func serveText(t *testing.T, body string) int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}
