package guestagent

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/guestagent/logfmt"
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

// TestRegistersFromConfFile: the agent replaces the original one in place:
// its /etc/guest-agent.conf (VM_ID= and MANAGER_URL= lines) is enough to
// register, and the kernel command line wins over it.
func TestRegistersFromConfFile(t *testing.T) {
	got := make(chan string, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	proc, sys := fixture(t)
	os.WriteFile(filepath.Join(proc, "net", "route"), []byte("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"), 0o644)
	conf := filepath.Join(t.TempDir(), "guest-agent.conf")
	const id = "5b1f0e2a-9c3d-4e8f-a7b6-1d2c3e4f5a6b"
	os.WriteFile(conf, []byte("# written by the original agent's installer\nVM_ID="+id+"\nMANAGER_URL=\""+srv.URL+"\"\n"), 0o644)
	start(t, "--listen", "127.0.0.1:0", "--procfs", proc, "--sysfs", sys, "--config-file", conf)
	select {
	case p := <-got:
		if p != "/v1/vms/"+id+"/guest-ip" {
			t.Errorf("registered at %s", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no registration from the configuration file within 10s")
	}

	const other = "7c2e1f3a-0b4d-4c5e-8f9a-2b3c4d5e6f70"
	os.WriteFile(filepath.Join(proc, "cmdline"), []byte("guest_agent.register_url="+srv.URL+" guest_agent.vm_id="+other+"\n"), 0o644)
	start(t, "--listen", "127.0.0.1:0", "--procfs", proc, "--sysfs", sys, "--config-file", conf)
	for deadline := time.After(10 * time.Second); ; {
		select {
		case p := <-got:
			if p == "/v1/vms/"+other+"/guest-ip" {
				return
			}
		case <-deadline:
			t.Fatal("the kernel command line did not win over the configuration file")
		}
	}
}

func TestReadConfFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c")
	os.WriteFile(p, []byte("VM_ID='a b'\nexport MANAGER_URL=http://x\n# VM_ID=no\nBROKEN\n  KEY = v \n"), 0o644)
	m, err := readConfFile(p)
	if err != nil || m["VM_ID"] != "a b" || m["MANAGER_URL"] != "http://x" || m["KEY"] != "v" || len(m) != 3 {
		t.Errorf("readConfFile = %v, %v", m, err)
	}
	if m, err := readConfFile(filepath.Join(t.TempDir(), "absent")); err != nil || len(m) != 0 {
		t.Errorf("a missing file: %v, %v", m, err)
	}
}

// TestDefaultListenWithoutVsock: the default --listen serves vsock too
// where the kernel has it, and TCP alone, silently, where it has not.
func TestDefaultListenWithoutVsock(t *testing.T) {
	ls, later, err := listenAll([]string{"127.0.0.1:0", "vsock://:0"}, true, logfmt.New(io.Discard, logfmt.LevelError))
	if err != nil {
		t.Fatalf("the default listen failed: %v", err)
	}
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	if len(ls) < 1 || ls[0].Addr() == "" || len(ls)+len(later) != 2 {
		t.Fatalf("listeners %v, later %v", ls, later)
	}
	t.Logf("listening on %d addresses (vsock later: %v)", len(ls), later)
	if _, _, err := listenAll([]string{"vsock://:0"}, false, logfmt.New(io.Discard, logfmt.LevelError)); err == nil && len(later) == 1 {
		t.Error("an explicit vsock address on a kernel without vsock did not fail")
	}
}
