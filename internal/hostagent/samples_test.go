package hostagent

import (
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/fcmon/fcmon/internal/core/samplepb"
	"github.com/fcmon/fcmon/internal/core/wire"
)

// TestSamplesDense: the dense answer carries what the JSON one reduces to.
func TestSamplesDense(t *testing.T) {
	scope := t.TempDir()
	ta := discoveringAgent(t, scope)
	startFirecracker(t, fcOpts{id: "vm-dense", vcpus: 2, guest: guestAgent(t), balloon: true, busy: "0.2,0", dir: filepath.Join(scope, "a")})
	ta.waitSample(t, "vm-dense", 5*time.Second, "every source", func(s *wire.VMSample) bool {
		return s.Guest != nil && s.Balloon != nil && s.VCPU != nil && s.Network != nil && s.Network.RxBytesPerSec != nil
	})
	req, _ := http.NewRequest("GET", ta.url+"/v1/samples", nil)
	req.Header.Set("Accept", samplepb.MediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != samplepb.MediaType {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var dense, fromJSON samplepb.HostSamples
	var d samplepb.Decoder
	if err := d.Decode(body, &dense); err != nil {
		t.Fatal(err)
	}
	js := ta.samples(t)
	samplepb.FromWire(&js, &fromJSON)
	if len(dense.VMs) != 1 || len(fromJSON.VMs) != 1 {
		t.Fatalf("VMs: dense %d, JSON %d", len(dense.VMs), len(fromJSON.VMs))
	}
	a, b := dense.VMs[0], fromJSON.VMs[0]
	if a.ID != "vm-dense" || a.ID != b.ID || !a.Discovered || !a.HasGuest || !a.HasVCPU || !a.HasBalloon || !a.HasProcess || !a.HasNetwork || !a.HasBlock {
		t.Fatalf("dense VM %+v", a)
	}
	if a.Guest.BootID != b.Guest.BootID || a.Guest.Transport != "vsock" || a.Guest.MemoryTotalKB != b.Guest.MemoryTotalKB ||
		a.VCPU.Count != 2 || *a.Balloon.TotalKB != *b.Balloon.TotalKB || a.Process.PID != b.Process.PID || a.Network.Source != "firecracker" {
		t.Errorf("dense %+v\nJSON %+v", a, b)
	}
	if dense.IntervalMs != 200 || dense.Host == "" {
		t.Errorf("header %+v", dense)
	}
	t.Logf("one VM: dense %d bytes", len(body))
}
