package sock

import (
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Listen opens a listening stream socket. Accepted forms:
//
//	"0.0.0.0:8080", "127.0.0.1:0", "[::1]:8080", "localhost:8080"
//	":8080"          every interface: one AF_INET6 socket with IPV6_V6ONLY=0
//	                 (IPv4 and IPv6), or AF_INET when the kernel has no IPv6
//	"vsock://:1024"  AF_VSOCK, any local CID; "vsock://3:1024" one CID
//
// Port 0 picks a free port, which Addr reports. An explicit IPv6 address,
// "[::]:8080" included, listens on IPv6 only, so it can be combined with
// "0.0.0.0:8080". TCP sockets get SO_REUSEADDR so a restarted agent can bind
// while old connections linger in TIME_WAIT. Malformed addresses give an
// error naming the address and what was wrong with it.
func Listen(addr string) (Listener, error) {
	la, err := parseListenAddr(addr)
	if err != nil {
		return nil, err
	}
	if la.vsock {
		return listenVsock(addr, la)
	}
	if la.ip.IsValid() {
		return listenTCP(addr, netip.AddrPortFrom(la.ip, uint16(la.port)), false)
	}
	l, err := listenTCP(addr, netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(la.port)), true)
	if err != nil && ipv6Missing(err) {
		return listenTCP(addr, netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(la.port)), false)
	}
	return l, err
}

// ipv6Missing reports errors meaning the kernel (ipv6.disable=1, or a build
// without IPv6) cannot open an IPv6 socket at all.
func ipv6Missing(err error) bool {
	return errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT) ||
		errors.Is(err, syscall.EADDRNOTAVAIL)
}

// listenTCP binds and listens on ap; dual clears IPV6_V6ONLY.
func listenTCP(addr string, ap netip.AddrPort, dual bool) (Listener, error) {
	fail := func(call string, err error) (Listener, error) {
		return nil, &os.PathError{Op: "listen", Path: addr, Err: os.NewSyscallError(call, err)}
	}
	sa, family, err := inetSockaddr(ap)
	if err != nil {
		return nil, &os.PathError{Op: "listen", Path: addr, Err: err}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|sockFlags, syscall.IPPROTO_TCP)
	if err != nil {
		return fail("socket", err)
	}
	call, err := bindListen(fd, family, sa, dual)
	if err != nil {
		syscall.Close(fd)
		return fail(call, err)
	}
	bound, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return fail("getsockname", err)
	}
	name := sockaddrString(bound)
	if sa6, ok := bound.(*syscall.SockaddrInet6); ok && dual {
		name = ":" + strconv.Itoa(sa6.Port) // the form that listens the same way again
	}
	return newListener(fd, name, true)
}

// bindListen sets the socket options, binds and listens; it returns the name
// of the failing call with the error.
func bindListen(fd, family int, sa syscall.Sockaddr, dual bool) (string, error) {
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return "setsockopt", err
	}
	if family == syscall.AF_INET6 {
		v6only := 1
		if dual {
			v6only = 0
		}
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, v6only); err != nil {
			return "setsockopt", err
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return "bind", err
	}
	if err := syscall.Listen(fd, listenBacklog); err != nil {
		return "listen", err
	}
	return "", nil
}

// inetSockaddr converts ap to a syscall address and its family. A zone names
// the interface of a link-local IPv6 address.
func inetSockaddr(ap netip.AddrPort) (syscall.Sockaddr, int, error) {
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, syscall.AF_INET, nil
	}
	if !ip.Is6() {
		return nil, 0, errors.New("invalid IP address")
	}
	sa := &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
	if zone := ip.Zone(); zone != "" {
		idx, err := zoneIndex(zone)
		if err != nil {
			return nil, 0, err
		}
		sa.ZoneId = idx
	}
	return sa, syscall.AF_INET6, nil
}

// zoneIndex resolves an IPv6 zone ("eth0" or "2") to an interface index via
// sysfs, the way if_nametoindex would.
func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	if strings.ContainsAny(zone, "/.") {
		return 0, errors.New("invalid IPv6 zone " + strconv.Quote(zone))
	}
	b, err := os.ReadFile("/sys/class/net/" + zone + "/ifindex")
	if err != nil {
		return 0, errors.New("unknown network interface " + strconv.Quote(zone))
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, errors.New("bad ifindex for interface " + strconv.Quote(zone))
	}
	return uint32(n), nil
}

// sockaddrAddr converts an inet syscall address back to netip form.
func sockaddrAddr(sa syscall.Sockaddr) (netip.AddrPort, bool) {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
	case *syscall.SockaddrInet6:
		ip := netip.AddrFrom16(sa.Addr)
		if sa.ZoneId != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(sa.ZoneId), 10))
		}
		return netip.AddrPortFrom(ip, uint16(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// sockaddrString renders an inet address as "ip:port" or "[ip]:port".
func sockaddrString(sa syscall.Sockaddr) string {
	if ap, ok := sockaddrAddr(sa); ok {
		return ap.String()
	}
	return "?"
}
