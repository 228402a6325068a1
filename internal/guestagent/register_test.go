package guestagent

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRegistersFromKernelCommandLine boots the agent the way a VM launcher
// would configure it: only through guest_agent.* kernel parameters.
func TestRegistersFromKernelCommandLine(t *testing.T) {
	type reg struct {
		path, contentType string
		body              map[string]any
	}
	got := make(chan reg, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		got <- reg{r.URL.Path, r.Header.Get("Content-Type"), body}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	proc, sys := fixture(t)
	const id = "0f3c5a9e-6a59-4d0e-9b3c-2f1e0c8d7a61"
	os.WriteFile(filepath.Join(proc, "cmdline"), []byte("console=ttyS0 guest_agent.register_url="+srv.URL+
		" guest_agent.vm_id="+id+" quiet -- guest_agent.vm_id=not-for-us\n"), 0o644)
	// No default route: the agent reports the address that reaches the manager.
	os.WriteFile(filepath.Join(proc, "net", "route"), []byte("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"), 0o644)
	a := start(t, "--listen", "127.0.0.1:0", "--procfs", proc, "--sysfs", sys)
	_, port, _ := net.SplitHostPort(a.addr)
	select {
	case r := <-got:
		if r.path != "/v1/vms/"+id+"/guest-ip" || r.contentType != "application/json" ||
			r.body["guest_ip"] != "127.0.0.1" || fmt.Sprint(r.body["guest_port"]) != port {
			t.Errorf("registration %+v, want guest_ip 127.0.0.1 and guest_port %s", r, port)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no registration within 10s")
	}
}

func TestKernelArgs(t *testing.T) {
	got := kernelArgs(`BOOT_IMAGE=/vmlinuz root=/dev/vda guest_agent.register_url="http://10.0.2.2:8080" guest_agent.vm_id=abc ` +
		`guest_agent.flag guest_agent.advertise=10.0.0.9:9100 other.x=1 -- guest_agent.vm_id=init-arg`)
	want := map[string]string{"register_url": "http://10.0.2.2:8080", "vm_id": "abc", "advertise": "10.0.0.9:9100"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("kernelArgs = %v, want %v", got, want)
	}
	if got := kernelArgs(""); len(got) != 0 {
		t.Errorf("empty command line gave %v", got)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:8080": true, "vsock://:1024": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.2.15:8080": false, "[::]:8080": false} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}
