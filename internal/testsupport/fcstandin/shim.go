package fcstandin

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

//go:embed csrc/fcshim.c
var shimSource []byte

// Shim builds the LD_PRELOAD library (csrc/fcshim.c) that makes QEMU look like
// Firecracker — comm "firecracker", vCPU threads "fc_vcpu N" — with the
// machine's gcc, into cacheDir (default ~/.cache/fcmon), once per version
// of its source, and returns its path.
func Shim(cacheDir string) (string, error) {
	if cacheDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cacheDir = filepath.Join(home, ".cache", "fcmon")
	}
	sum := sha256.Sum256(shimSource)
	out := filepath.Join(cacheDir, "fcshim-"+hex.EncodeToString(sum[:6])+".so")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return "", errors.New("gcc not found in PATH: it builds the Firecracker stand-in's thread-name shim (apt-get install gcc; make test installs it)")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	// Builders at once (two demo guests, two test processes) each build in
	// a directory of their own and rename the result into place: the last
	// rename wins with the same bytes, and none sees another's half file.
	work, err := os.MkdirTemp(cacheDir, "fcshim-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "fcshim.c")
	if err := os.WriteFile(src, shimSource, 0o644); err != nil {
		return "", err
	}
	tmp := filepath.Join(work, "fcshim.so")
	if msg, err := exec.Command(gcc, "-shared", "-fPIC", "-O2", "-o", tmp, src, "-ldl").CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the shim: %w\n%s", err, msg)
	}
	return out, os.Rename(tmp, out)
}
