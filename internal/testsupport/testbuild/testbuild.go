// Package testbuild builds fcmon's programs for tests the way the Makefile
// does (static, stripped, the guest agent without the Green Tea collector),
// so that tests run the real binaries. It is for tests only.
package testbuild

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// env is what each program is built with beyond CGO_ENABLED=0.
var env = map[string][]string{
	"guest-agent": {"GOEXPERIMENT=nogreenteagc"},
}

// Program builds ./cmd/<name> of this module into dir/<name> and returns
// the binary's path.
func Program(dir, name string) (string, error) {
	return build(dir, "./cmd/"+name, name, env[name])
}

// Build builds the main package pkg (such as "./test/fcstandin") of this
// module into dir/name, statically, and returns the binary's path.
func Build(dir, pkg, name string) (string, error) {
	return build(dir, pkg, name, nil)
}

// Firecracker builds the Firecracker stand-in (test/fcstandin) into
// dir/firecracker, the name that makes its comm Firecracker's.
func Firecracker(dir string) (string, error) {
	return Build(dir, "./test/fcstandin", "firecracker")
}

func build(dir, pkg, name string, extraEnv []string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), extraEnv...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", pkg, err, msg)
	}
	return out, nil
}

// Programs builds each named program into dir, in order, and returns their
// paths in the same order.
func Programs(dir string, names ...string) ([]string, error) {
	paths := make([]string, len(names))
	for i, name := range names {
		var err error
		if paths[i], err = Program(dir, name); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// moduleRoot is the directory holding go.mod above the working directory
// (a test runs in its package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testbuild: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Main builds the named programs into a temporary directory, points each
// of out at its binary (in order), runs the tests of m and removes the
// binaries; it returns the exit code for os.Exit. what names the tests in
// an error.
func Main(m interface{ Run() int }, what string, names []string, out ...*string) int {
	dir, err := os.MkdirTemp("", "fcmon-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, what+":", err)
		return 1
	}
	defer os.RemoveAll(dir)
	paths, err := Programs(dir, names...)
	if err != nil {
		fmt.Fprintln(os.Stderr, what+":", err)
		return 1
	}
	for i, p := range paths {
		*out[i] = p
	}
	return m.Run()
}
