// Package netpolicy decides which network addresses fcmon's manager and host
// agent may dial and which names they answer to: allow-lists of networks
// with the cloud metadata services always left out, a check of the address
// actually dialled (so DNS rebinding cannot slip past a check made at
// registration), the validation of agent URLs, the loopback test of listen
// addresses and the Host-header policy against DNS rebinding.
package netpolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// Default allow-lists.
const (
	// PrivateRanges are the private and carrier-grade NAT ranges: the
	// default of --guest-allow-cidrs.
	PrivateRanges = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"
	// LoopbackAndPrivate adds loopback to PrivateRanges: the default of
	// --host-agent-allow-cidrs, as a host agent often runs beside the
	// manager.
	LoopbackAndPrivate = "127.0.0.0/8,::1/128," + PrivateRanges
)

// ErrNotAllowed is wrapped by every refusal of an address.
var ErrNotAllowed = errors.New("address not allowed")

// List is an allow-list of networks. Whatever it holds, it never allows
// link-local, multicast or unspecified addresses, nor any address of
// Metadata. The zero List allows nothing.
type List struct {
	flag     string // the flag it came from, for messages
	prefixes []netip.Prefix
}

// ParseList parses a comma-separated list of networks (a bare address is a
// network of one) given by flag. An empty list is an error: nothing could
// ever be contacted.
func ParseList(flag, csv string) (List, error) {
	l := List{flag: flag}
	for _, f := range SplitList(csv) {
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return List{}, fmt.Errorf("%s: %q is not a network such as 10.0.0.0/8", flag, f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		l.prefixes = append(l.prefixes, p.Masked())
	}
	if len(l.prefixes) == 0 {
		return List{}, fmt.Errorf("%s is empty: no address could ever be contacted", flag)
	}
	return l, nil
}

// MustParseList is ParseList for lists known to be valid.
func MustParseList(flag, csv string) List {
	l, err := ParseList(flag, csv)
	if err != nil {
		panic(err)
	}
	return l
}

// Empty reports whether the list holds no network (the zero List).
func (l List) Empty() bool { return len(l.prefixes) == 0 }

// String is the list as a message shows it.
func (l List) String() string {
	if len(l.prefixes) == 0 {
		return "none"
	}
	parts := make([]string, len(l.prefixes))
	for i, p := range l.prefixes {
		parts[i] = p.String()
	}
	return strings.Join(parts, ", ")
}

// Canonical returns ip as it is checked and should be stored: an
// IPv4-mapped IPv6 address ([::ffff:10.0.0.1]) as plain IPv4.
func Canonical(ip netip.Addr) netip.Addr { return ip.Unmap() }

// Check returns nil when ip may be contacted, else an error wrapping
// ErrNotAllowed whose message says why (it does not name the field: the
// caller does).
func (l List) Check(ip netip.Addr) error {
	if ip.Zone() != "" {
		return refusedf("%s has an IPv6 zone; expected an address without %%zone", ip)
	}
	ip = ip.Unmap()
	if v4, ok := nat64(ip); ok {
		if err := l.checkSpecial(v4); err != nil {
			return err
		}
	}
	if err := l.checkSpecial(ip); err != nil {
		return err
	}
	for _, p := range l.prefixes {
		if p.Contains(ip) {
			return nil
		}
	}
	where := l.flag
	if where == "" {
		where = "the allow-list"
	}
	return refusedf("%s is outside the allowed networks (%s); %s decides which addresses may be contacted", ip, l, where)
}

// checkSpecial refuses what no allow-list can allow.
func (l List) checkSpecial(ip netip.Addr) error {
	if m, ok := metadataByAddr[ip]; ok {
		return refusedf("%s is %s; it is never contacted", ip, m)
	}
	switch {
	case ip.IsLinkLocalUnicast():
		return refusedf("%s is link-local (169.254.0.0/16 or fe80::/10, where cloud metadata services such as 169.254.169.254 live); it is never contacted", ip)
	case ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return refusedf("%s is a multicast address; expected a unicast address", ip)
	case ip.IsUnspecified():
		return refusedf("%s is the unspecified address; expected a real address", ip)
	}
	return nil
}

// nat64 returns the IPv4 address embedded in an address of the well-known
// NAT64 prefix 64:ff9b::/96, which reaches that IPv4 address through a
// translator.
func nat64(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	if [12]byte(b[:12]) != [12]byte{0, 0x64, 0xff, 0x9b} {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b[12:])), true
}

// Allows reports whether Check passes.
func (l List) Allows(ip netip.Addr) bool { return l.Check(ip) == nil }

// Control is a net.Dialer Control function that refuses a connection to an
// address the list does not allow, before anything is sent. It sees the
// address actually dialled, after name resolution, so a name that resolved
// to an allowed address at registration and to another one now is still
// refused.
func (l List) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dialling %s: %w", address, ErrNotAllowed)
	}
	if err := l.Check(ap.Addr()); err != nil {
		return fmt.Errorf("dialling %s: %w", address, err)
	}
	return nil
}

type refusal struct{ msg string }

func (r refusal) Error() string { return r.msg }
func (r refusal) Unwrap() error { return ErrNotAllowed }

func refusedf(format string, args ...any) error {
	return refusal{fmt.Sprintf(format, args...)}
}

// SplitList splits a comma-separated flag value, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
