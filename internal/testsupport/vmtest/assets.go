package vmtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// modulePath is the module whose root holds bin/ and scripts/.
const modulePath = "github.com/fcmon/fcmon"

// Assets locates the guest kernel, its modules and busybox that scripts/vm-assets.sh caches.
type Assets struct {
	// Dir is the cache folder, ${FCMON_CACHE:-$HOME/.cache/fcmon}/vm by default.
	Dir string
}

// DefaultAssets returns the assets in the folder scripts/vm-assets.sh fills.
func DefaultAssets() Assets {
	base := os.Getenv("FCMON_CACHE")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		base = filepath.Join(home, ".cache", "fcmon")
	}
	return Assets{Dir: filepath.Join(base, "vm")}
}

// Kernel is the path of the guest kernel image.
func (a Assets) Kernel() string { return filepath.Join(a.Dir, "vmlinuz") }

// Busybox is the path of the static busybox binary the guest runs as its userland.
func (a Assets) Busybox() string { return filepath.Join(a.Dir, "busybox") }

// Modules returns the paths of the kernel modules the guest loads, in load order.
func (a Assets) Modules() ([]string, error) {
	order := filepath.Join(a.Dir, "modules", "order")
	data, err := os.ReadFile(order)
	if err != nil {
		return nil, fmt.Errorf("reading module order: %w", err)
	}
	var paths []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			continue
		}
		if strings.ContainsAny(name, "/ ") {
			return nil, fmt.Errorf("module name %q in %s is not a plain file name", name, order)
		}
		paths = append(paths, filepath.Join(a.Dir, "modules", name))
	}
	return paths, nil
}

// Check reports what is missing: an error naming the file, or nil when all assets are there.
func (a Assets) Check() error {
	for _, p := range []string{filepath.Join(a.Dir, "READY"), a.Kernel(), a.Busybox()} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("vm asset %s is missing", p)
		}
	}
	mods, err := a.Modules()
	if err != nil {
		return err
	}
	for _, p := range mods {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("vm asset %s is missing", p)
		}
	}
	return nil
}

// Require skips t when QEMU or the cached assets are missing, naming the missing piece and
// the command that provides it. make test runs that command first, so nothing skips there.
func Require(t testing.TB, a Assets) {
	t.Helper()
	if _, err := exec.LookPath(qemuBinary); err != nil {
		t.Skipf("%s not found in PATH: run scripts/vm-assets.sh (it installs qemu-system-x86) or apt-get install qemu-system-x86", qemuBinary)
	}
	if err := a.Check(); err != nil {
		t.Skipf("%v: run scripts/vm-assets.sh to fetch the guest kernel, modules and busybox", err)
	}
}

// RepoRoot returns the root of the fcmon module, found by walking up from the working
// directory (a test's package folder) to the go.mod that declares it.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repository root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && declaresModule(data, modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod declaring " + modulePath + " above the working directory")
		}
		dir = parent
	}
}

func declaresModule(gomod []byte, path string) bool {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" && strings.Trim(fields[1], `"`) == path {
			return true
		}
	}
	return false
}

// GuestAgent returns the path of the built bin/guest-agent, skipping t with a message
// naming make guest-agent when it has not been built.
func GuestAgent(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("locating bin/guest-agent: %v", err)
	}
	p := filepath.Join(root, "bin", "guest-agent")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is missing: build it with make guest-agent", p)
	}
	return p
}
