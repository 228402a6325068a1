package discovery

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// DefaultDiscoverUIDs are the users whose Firecracker processes discovery
// watches without being told: root, and the block of uids this project
// asks launchers to give the jailer (--uid). No Debian or systemd tool
// allocates there (people 1000–59999, systemd's dynamic users 61184–65519,
// nobody 65534, /etc/subuid blocks from 100000 upwards in steps of 65536),
// so no local user and no user namespace of one lands in it by default.
const DefaultDiscoverUIDs = "0,800000000-899999999"

// uidRange is a closed range of uids.
type uidRange struct{ lo, hi uint64 }

// UIDSet is the users of --discover-uids.
type UIDSet []uidRange

// ParseUIDSet parses "0,800000000-899999999": uids and ranges, comma-separated.
func ParseUIDSet(flag, s string) (UIDSet, error) {
	var out UIDSet
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(f, "-")
		a, err1 := strconv.ParseUint(lo, 10, 32)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.ParseUint(hi, 10, 32)
		}
		if err1 != nil || err2 != nil || b < a || b > 1<<32-2 {
			return nil, fmt.Errorf("%s: %q is not a uid or a range of uids such as 800000000-899999999", flag, f)
		}
		out = append(out, uidRange{a, b})
	}
	return out, nil
}

func (s UIDSet) has(uid int) bool {
	for _, r := range s {
		if uint64(uid) >= r.lo && uint64(uid) <= r.hi {
			return true
		}
	}
	return false
}

// All reports whether every one of a process's uids (real, effective,
// saved, file system) is in the set.
func (s UIDSet) All(uids [4]int) bool {
	for _, u := range uids {
		if !s.has(u) {
			return false
		}
	}
	return true
}

func (s UIDSet) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = strconv.FormatUint(r.lo, 10)
		if r.hi != r.lo {
			parts[i] += "-" + strconv.FormatUint(r.hi, 10)
		}
	}
	return strings.Join(parts, ",")
}

// SubIDOverlaps names the entries of subordinate-id files (/etc/subuid,
// /etc/subgid: "user:first:count") whose ranges meet s: the user
// namespaces of those users have uids there, so their processes would be
// discovered.
func SubIDOverlaps(s UIDSet, files ...string) []string {
	var out []string
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(strings.TrimSpace(line), ":")
			if len(f) != 3 {
				continue
			}
			first, err1 := strconv.ParseUint(f[1], 10, 32)
			count, err2 := strconv.ParseUint(f[2], 10, 32)
			if err1 != nil || err2 != nil || count == 0 {
				continue
			}
			for _, r := range s {
				if first <= r.hi && first+count-1 >= r.lo {
					out = append(out, path+": "+line)
					break
				}
			}
		}
	}
	return out
}
