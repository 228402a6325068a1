// Package register announces the guest agent's address to the manager:
// POST {url}/v1/vms/{id}/guest-ip at start and whenever the address changes,
// retrying with backoff until the manager answers. It speaks just enough
// HTTP/1.1 over the agent's own sockets to do that, since net/http does not
// fit the agent's size budget; only http:// URLs are supported.
package register

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Target is a parsed registration URL.
type Target struct {
	Host   string // as written, for the Host header
	Port   uint16
	Prefix string // path before /v1/..., without a trailing slash
}

// ParseURL parses "http://host[:port][/prefix]". Query strings, fragments,
// user info and schemes other than http are refused with a message saying
// what is accepted.
func ParseURL(raw string) (Target, error) {
	rest, ok := strings.CutPrefix(raw, "http://")
	if !ok {
		if strings.HasPrefix(raw, "https://") {
			return Target{}, errors.New("register url " + strconv.Quote(raw) + ": https is not supported by the guest agent; use http:// on a trusted network")
		}
		return Target{}, errors.New("register url " + strconv.Quote(raw) + ": expected http://host[:port][/path]")
	}
	if strings.ContainsAny(rest, "?#@ \t\r\n") {
		return Target{}, errors.New("register url " + strconv.Quote(raw) + ": query, fragment, user info and spaces are not allowed")
	}
	hostport, prefix, _ := strings.Cut(rest, "/")
	t := Target{Port: 80, Prefix: strings.TrimRight("/"+prefix, "/")}
	host := hostport
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		if end < 0 {
			return Target{}, errors.New("register url " + strconv.Quote(raw) + ": missing ] in IPv6 address")
		}
		host = hostport[1:end]
		if tail := hostport[end+1:]; tail != "" {
			p, ok := strings.CutPrefix(tail, ":")
			if !ok {
				return Target{}, errors.New("register url " + strconv.Quote(raw) + ": unexpected text after ]")
			}
			if err := t.setPort(p); err != nil {
				return Target{}, errors.New("register url " + strconv.Quote(raw) + ": " + err.Error())
			}
		}
	} else if h, p, found := strings.Cut(hostport, ":"); found {
		host = h
		if err := t.setPort(p); err != nil {
			return Target{}, errors.New("register url " + strconv.Quote(raw) + ": " + err.Error())
		}
	}
	if host == "" {
		return Target{}, errors.New("register url " + strconv.Quote(raw) + ": missing host")
	}
	t.Host = host
	return t, nil
}

func (t *Target) setPort(p string) error {
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return errors.New("port " + strconv.Quote(p) + " is not a number from 1 to 65535")
	}
	t.Port = uint16(n)
	return nil
}

// hostHeader is the value of the Host header for t.
func (t Target) hostHeader() string {
	h := t.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if t.Port != 80 {
		h += ":" + strconv.Itoa(int(t.Port))
	}
	return h
}

// Resolve returns the address to connect to: the host itself when it is an
// IP literal, otherwise its entry in the hosts file. The agent carries no
// DNS resolver; name the manager by address or through /etc/hosts.
func (t Target) Resolve(hostsFile string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddr(t.Host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), t.Port), nil
	}
	data, err := os.ReadFile(hostsFile)
	if err == nil {
		if a, ok := lookupHosts(data, t.Host); ok {
			return netip.AddrPortFrom(a, t.Port), nil
		}
	}
	return netip.AddrPort{}, errors.New("cannot resolve " + strconv.Quote(t.Host) +
		": the guest agent resolves IP literals and " + hostsFile + " entries only")
}

// lookupHosts finds name in hosts-file content, preferring IPv4.
func lookupHosts(data []byte, name string) (netip.Addr, bool) {
	var found netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		a, err := netip.ParseAddr(fields[0])
		if err != nil {
			continue
		}
		for _, f := range fields[1:] {
			if strings.EqualFold(f, name) {
				if a.Is4() {
					return a, true
				}
				if !found.IsValid() {
					found = a
				}
			}
		}
	}
	return found, found.IsValid()
}
