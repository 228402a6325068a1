// Package netns runs a test binary inside a network namespace of its own,
// holding only a loopback interface, so that nothing a test starts — a
// hostile fake, a program under attack — can reach any address but
// loopback. It is for tests only.
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// marker is set in the environment of the test binary run inside.
const marker = "FCMON_TEST_NETNS"

var isolated bool

// Main runs the tests of m inside a new network namespace: as root it
// starts the test binary again under CLONE_NEWNET (loopback up) and
// returns its exit code; inside, it runs the tests. Without root the tests
// run where they are and Require skips them.
func Main(m *testing.M) int {
	if os.Getenv(marker) == "1" {
		if err := loopbackUp(); err != nil {
			fmt.Fprintln(os.Stderr, "netns: bringing loopback up:", err)
			return 1
		}
		isolated = true
		return m.Run()
	}
	if os.Geteuid() != 0 {
		return m.Run()
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), marker+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "netns: running the tests in a network namespace:", err)
		return 1
	}
	return 0
}

// Require skips t unless it runs inside the namespace Main made.
func Require(t testing.TB) {
	t.Helper()
	if !isolated {
		t.Skip("these tests run as root inside a network namespace of their own (unshare -n); not root here")
	}
}

// loopbackUp sets the flag IFF_UP on lo, as `ip link set lo up` does.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
