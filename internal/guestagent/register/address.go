package register

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// ParseAdvertise parses --advertise: "ADDR" or "ADDR:PORT" ("[v6]:PORT" for
// IPv6). Port 0 means the caller's default.
func ParseAdvertise(s string) (netip.Addr, uint16, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), 0, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return netip.Addr{}, 0, errors.New("advertise address " + strconv.Quote(s) +
			" is not ADDR or ADDR:PORT with an IP literal and a port from 1 to 65535")
	}
	return ap.Addr().Unmap(), ap.Port(), nil
}

// defaultGateway returns the gateway of the IPv4 default route with the
// lowest metric from /proc/net/route content. ok is false when there is no
// default route; the gateway is the zero address for a device route.
func defaultGateway(route []byte) (gw netip.Addr, ok bool) {
	best := uint64(1<<64 - 1)
	sc := bufio.NewScanner(bytes.NewReader(route))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		metric, err2 := strconv.ParseUint(f[6], 10, 64)
		g, err3 := strconv.ParseUint(f[2], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil || flags&1 == 0 {
			continue // malformed, or the route is not up
		}
		if metric < best {
			best = metric
			// The kernel prints the address's bytes as a native u32 in hex;
			// the machines Firecracker runs on are little-endian.
			gw, ok = netip.AddrFrom4([4]byte{byte(g), byte(g >> 8), byte(g >> 16), byte(g >> 24)}), true
		}
	}
	return gw, ok
}
