package sock

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// vsockScheme prefixes AF_VSOCK addresses: "vsock://CID:PORT", CID empty for any.
const vsockScheme = "vsock://"

// cidAny is VMADDR_CID_ANY: accept connections addressed to any local CID.
const cidAny = 0xFFFFFFFF

// listenAddr is a parsed Listen address.
type listenAddr struct {
	vsock bool
	cid   uint32     // vsock only; cidAny when omitted
	port  uint32     // TCP port (≤ 65535) or vsock port; 0 picks a free one
	ip    netip.Addr // TCP only; the zero Addr means every interface, dual-stack
}

// parseListenAddr parses the address forms documented on Listen.
func parseListenAddr(s string) (listenAddr, error) {
	if rest, ok := strings.CutPrefix(s, vsockScheme); ok {
		return parseVsockAddr(s, rest)
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return listenAddr{}, addrError(s, "unsupported scheme "+strconv.Quote(s[:i])+" (want host:port or vsock://cid:port)")
	}
	host, portStr, err := splitHostPort(s)
	if err != nil {
		return listenAddr{}, addrError(s, err.Error())
	}
	port, err := parseUint(portStr, 65535)
	if err != nil {
		return listenAddr{}, addrError(s, "port "+err.Error())
	}
	la := listenAddr{port: uint32(port)}
	switch host {
	case "":
		return la, nil
	case "localhost":
		la.ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		return la, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return listenAddr{}, addrError(s, "host "+strconv.Quote(host)+" is not an IP address")
	}
	la.ip = ip.Unmap()
	return la, nil
}

// parseVsockAddr parses "CID:PORT" or ":PORT" after the vsock:// prefix.
func parseVsockAddr(s, rest string) (listenAddr, error) {
	cidStr, portStr, ok := strings.Cut(rest, ":")
	if !ok || portStr == "" {
		return listenAddr{}, addrError(s, "missing port (want vsock://:PORT or vsock://CID:PORT)")
	}
	la := listenAddr{vsock: true, cid: cidAny}
	if cidStr != "" {
		cid, err := parseUint(cidStr, cidAny)
		if err != nil {
			return listenAddr{}, addrError(s, "cid "+err.Error())
		}
		la.cid = uint32(cid)
	}
	port, err := parseUint(portStr, 0xFFFFFFFE) // 0xFFFFFFFF is VMADDR_PORT_ANY
	if err != nil {
		return listenAddr{}, addrError(s, "port "+err.Error())
	}
	la.port = uint32(port)
	return la, nil
}

// splitHostPort splits "host:port", "[v6]:port" and ":port".
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("missing ']' after IPv6 address")
		}
		host, rest := s[1:end], s[end+1:]
		if !strings.HasPrefix(rest, ":") {
			return "", "", errors.New("missing port after IPv6 address")
		}
		if host == "" {
			return "", "", errors.New("empty IPv6 address in brackets")
		}
		return host, rest[1:], nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", errors.New("missing port (want host:port, :port or vsock://cid:port)")
	}
	if strings.IndexByte(s[:i], ':') >= 0 {
		return "", "", errors.New("IPv6 address must be in brackets, as in [::1]:8080")
	}
	return s[:i], s[i+1:], nil
}

// parseUint parses a plain decimal number no larger than max; signs, spaces
// and empty strings are rejected.
func parseUint(s string, max uint64) (uint64, error) {
	if s == "" {
		return 0, errors.New("is empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New(strconv.Quote(s) + " is not a decimal number")
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > max {
		return 0, errors.New(s + " out of range (0-" + strconv.FormatUint(max, 10) + ")")
	}
	return v, nil
}

func addrError(s, msg string) error {
	return errors.New("listen address " + strconv.Quote(s) + ": " + msg)
}

// formatVsock renders a vsock address in the form Listen accepts.
func formatVsock(cid, port uint32) string {
	c := ""
	if cid != cidAny {
		c = strconv.FormatUint(uint64(cid), 10)
	}
	return vsockScheme + c + ":" + strconv.FormatUint(uint64(port), 10)
}
