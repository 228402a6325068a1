package vmtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBootBusybox proves the harness on its own, without the guest agent: console
// commands and their exit status, the guest's own /proc, extra files, the disk, and
// the host forward (busybox httpd standing in for the agent).
func TestBootBusybox(t *testing.T) {
	t.Parallel()
	page := filepath.Join(t.TempDir(), "index.html")
	if err := os.WriteFile(page, []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vm := Boot(t, Config{
		MemoryMiB:  192,
		DiskMiB:    8,
		KernelArgs: []string{"vmtest.marker=42"},
		Files:      map[string]string{"/www/index.html": page},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	out, err := vm.Run(ctx, "echo hello; echo oops >&2")
	if err != nil || out != "hello\noops\n" {
		t.Fatalf("Run(echo) = %q, %v; want \"hello\\noops\\n\", nil", out, err)
	}
	_, err = vm.Run(ctx, "exit 3")
	var exitErr *ExitError
	if !errors.As(err, &exitErr) || exitErr.Status != 3 {
		t.Fatalf("Run(exit 3) error = %v, want ExitError with status 3", err)
	}

	memTotal := strings.Fields(vm.MustRun("grep MemTotal /proc/meminfo"))
	kb, err := strconv.Atoi(memTotal[1])
	if err != nil || kb < 100<<10 || kb > 192<<10 {
		t.Errorf("guest MemTotal = %v kB, want a value below the 192 MiB given to -m", memTotal)
	}
	if got := vm.MustRun("cat /proc/cmdline"); !strings.Contains(got, "vmtest.marker=42") {
		t.Errorf("guest /proc/cmdline = %q, want it to contain vmtest.marker=42", got)
	}
	if got := vm.MustRun("cat /sys/block/vda/size"); strings.TrimSpace(got) != "16384" {
		t.Errorf("/sys/block/vda/size = %q sectors, want 16384 (8 MiB)", got)
	}

	vm.MustRun("httpd -p 8080 -h /www")
	body, err := vm.Get(ctx, "/index.html")
	if err != nil || string(body) != "hello from the host\n" {
		t.Fatalf("GET /index.html through the host forward = %q, %v", body, err)
	}

	if err := vm.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := vm.Run(ctx, "true"); err == nil {
		t.Error("Run after Stop succeeded, want an error")
	}
}
