// Command vsockclient sends one HTTP/1.0 GET request over AF_VSOCK and copies the raw
// response to stdout. The guest VM tests put it into the guest (built with
// CGO_ENABLED=0), where busybox has no vsock tool, to reach the agent's vsock listener.
//
// Usage: vsockclient CID PORT PATH
//
// It exits 0 once the response has been read to its end, 1 on an error and 2 when the
// whole exchange takes longer than ten seconds.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// afVsock is AF_VSOCK, which package syscall does not name.
const afVsock = 40

// sockaddrVM is struct sockaddr_vm from <linux/vm_sockets.h>.
type sockaddrVM struct {
	family    uint16
	reserved1 uint16
	port      uint32
	cid       uint32
	flags     uint8
	zero      [3]uint8
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: vsockclient CID PORT PATH")
		os.Exit(1)
	}
	time.AfterFunc(10*time.Second, func() {
		fmt.Fprintln(os.Stderr, "vsockclient: no complete response within 10s")
		os.Exit(2)
	})
	if err := get(os.Args[1], os.Args[2], os.Args[3], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vsockclient:", err)
		os.Exit(1)
	}
}

// get connects to cid:port, requests path and copies the response to w.
func get(cidArg, portArg, path string, w io.Writer) error {
	cid, err := strconv.ParseUint(cidArg, 10, 32)
	if err != nil {
		return fmt.Errorf("CID %q is not a 32-bit number", cidArg)
	}
	port, err := strconv.ParseUint(portArg, 10, 32)
	if err != nil {
		return fmt.Errorf("port %q is not a 32-bit number", portArg)
	}
	fd, err := syscall.Socket(afVsock, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("creating an AF_VSOCK socket: %w", err)
	}
	conn := os.NewFile(uintptr(fd), "vsock")
	defer conn.Close()
	sa := sockaddrVM{family: afVsock, port: uint32(port), cid: uint32(cid)}
	_, _, errno := syscall.Syscall(syscall.SYS_CONNECT, uintptr(fd),
		uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	if errno != 0 {
		return fmt.Errorf("connecting to vsock %d:%d: %w", cid, port, errno)
	}
	req := "GET " + path + " HTTP/1.0\r\nHost: vsock\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return fmt.Errorf("sending the request: %w", err)
	}
	if _, err := io.Copy(w, conn); err != nil {
		return fmt.Errorf("reading the response: %w", err)
	}
	return nil
}
