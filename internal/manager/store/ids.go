package store

import (
	"strings"

	"github.com/google/uuid"
)

// The registry's ids are UUIDs in one spelling; these make and check them.

// hostVMSpace is the UUID namespace of the ids given to VMs found by host
// agents whose own id is not a free UUID.
var hostVMSpace = uuid.MustParse("6f1c2b1e-6c2a-4f3e-9d0b-3f6f0c1a7e21")

// ParseUUID returns s as a canonical lower-case UUID when it has the
// 8-4-4-4-12 hexadecimal form (any case); the other spellings some
// libraries accept (braces, "urn:uuid:", no dashes) are refused, so that
// one VM has one id.
func ParseUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return "", false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

// NewUUID returns a random (version 4, RFC 9562) UUID.
func NewUUID() string { return uuid.NewString() }

// HostVMUUID is the id of the VM hostVMID of host agent hostID when its
// own id is not a free UUID: derived from both (version 5), so a VM that
// leaves and returns gets its id again.
func HostVMUUID(hostID, hostVMID string) string {
	return uuid.NewSHA1(hostVMSpace, []byte(hostID+"/"+hostVMID)).String()
}
