// Package access is who may do what on the manager's API: the roles, the
// tokens file that gives each token one, the per-VM registration
// credentials derived from a secret, and the live set of credentials that
// SIGHUP rereads. It knows nothing of HTTP; the API asks it.
package access

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fcmon/fcmon/internal/core/labels"
)

// Role is what a credential may do.
type Role string

const (
	// Admin may do everything.
	Admin Role = "admin"
	// Read may make every GET and open the streams: /v1, /metrics, the SD.
	Read Role = "read"
	// Register may only set guest addresses (POST /v1/vms/{id}/guest-ip),
	// of any VM: for a launcher that registers many.
	Register Role = "register"
	// Guest is a per-VM registration credential: it sets the address of
	// its own VM and nothing else.
	Guest Role = "guest"
	// Anyone is what a call needs that every valid credential may make
	// (GET /v1/whoami).
	Anyone Role = ""
)

// Allows reports whether a credential of role r may make a call that needs
// need: admin may do all, read what needs read, register and guest what
// needs register (a guest for its own VM only, which the caller checks).
func (r Role) Allows(need Role) bool {
	if need == Anyone {
		return r != "" && r != Guest // a guest's credential registers, nothing else
	}
	switch r {
	case Admin:
		return true
	case Read:
		return need == Read
	case Register, Guest:
		return need == Register
	}
	return false
}

// Identity is who made a request, as logs and the audit trail name it.
type Identity struct {
	Name string
	Role Role
	// VMID is the VM a Guest credential is for.
	VMID string
	// Scope, for a read token with a SELECTOR, picks the VMs it sees: every
	// read answers as if the fleet held those only. Empty: all.
	Scope labels.Selector
	// key identifies the credential in the live set (its token's digest);
	// empty for those not from the tokens file.
	key [sha256.Size]byte
}

// Entry is one line of a tokens file.
type Entry struct {
	Role     Role
	Name     string
	Token    string
	Selector string          // as written; "" for none
	Scope    labels.Selector // Selector, parsed
}

// MaxTokensFile bounds a tokens file.
const MaxTokensFile = 1 << 20

// ParseTokens reads a tokens file: one token a line, "ROLE NAME TOKEN
// [SELECTOR]", '#' comments and blank lines allowed. ROLE is admin, read or
// register; NAME 1 to 64 letters, digits, '.', '_' or '-', unique; TOKEN
// at least 16 printable ASCII characters, unique. A SELECTOR would scope
// the token to the VMs with those labels (comma-separated terms of
// labels.ParseTerm, all of which must hold); only a read token takes one.
// Errors name the line.
func ParseTokens(data []byte) ([]Entry, error) {
	if len(data) > MaxTokensFile {
		return nil, fmt.Errorf("over %d bytes", MaxTokensFile)
	}
	var out []Entry
	names, tokens := map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), MaxTokensFile)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		fail := func(format string, a ...any) ([]Entry, error) {
			return nil, fmt.Errorf("line %d: %s", n, fmt.Sprintf(format, a...))
		}
		if len(f) < 3 || len(f) > 4 {
			return fail("want ROLE NAME TOKEN [SELECTOR], got %d fields", len(f))
		}
		e := Entry{Role: Role(f[0]), Name: f[1], Token: f[2]}
		switch e.Role {
		case Admin, Read, Register:
		default:
			return fail("role %q is none of admin, read, register", clip(f[0]))
		}
		if !validName(e.Name) {
			return fail("name %q must be 1 to 64 letters, digits, '.', '_' or '-'", clip(e.Name))
		}
		if prev, ok := names[e.Name]; ok {
			return fail("name %q is line %d's too; a name is one token's", e.Name, prev)
		}
		if len(e.Token) < 16 || !printable(e.Token) {
			return fail("the token of %q must be at least 16 printable ASCII characters", e.Name)
		}
		if prev, ok := tokens[e.Token]; ok {
			return fail("the token of %q is line %d's too", e.Name, prev)
		}
		if len(f) == 4 {
			if e.Role != Read {
				return fail("the selector %q of %q: only a read token is scoped to VMs by label; an %s token acts on the whole fleet", clip(f[3]), e.Name, e.Role)
			}
			sel, err := labels.ParseList(f[3])
			if err != nil {
				return fail("the selector of %q: %v", e.Name, err)
			}
			e.Selector, e.Scope = f[3], sel
		}
		names[e.Name], tokens[e.Token] = n, n
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// ReadTokensFile reads and parses path, refusing a file that others than
// its owner may read (or write): tokens are secrets.
func ReadTokensFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable or writable by others than its owner (mode %04o); chmod 600 it", path, fi.Mode().Perm())
	}
	data := make([]byte, MaxTokensFile+1)
	n, _ := f.Read(data)
	entries, err := ParseTokens(data[:n])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}

// RegistrationToken is the credential a guest registers VM vmID with:
// "reg.<vm id>.<mac>", the mac HMAC-SHA256 of the VM id under the
// registration secret, in hex. It names its VM, so the manager can tell a
// credential of another VM (403) from no credential (401). The launcher
// computes it (or asks `manager registration-token`) and hands it to the
// guest as it hands over the VM id.
func RegistrationToken(secret []byte, vmID string) string {
	vmID = strings.ToLower(vmID)
	return regPrefix + vmID + "." + hex.EncodeToString(regMAC(secret, vmID))
}

const regPrefix = "reg."

func regMAC(secret []byte, vmID string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("fcmon-register:" + vmID))
	return m.Sum(nil)
}

// guest checks a registration credential and returns its VM id.
func (k *Keys) guest(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, regPrefix)
	if !ok || k.secret == nil {
		return "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return "", false
	}
	vmID, mac := rest[:i], rest[i+1:]
	got, err := hex.DecodeString(mac)
	if err != nil || vmID != strings.ToLower(vmID) {
		return "", false
	}
	return vmID, hmac.Equal(got, regMAC(k.secret, vmID))
}

// ReadSecretFile reads a registration secret: at least 32 bytes once
// surrounding whitespace is trimmed, in a file only its owner may read.
func ReadSecretFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable or writable by others than its owner (mode %04o); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if len(b) < 32 {
		return nil, fmt.Errorf("%s holds %d bytes; a registration secret needs at least 32 (head -c 32 /dev/urandom | base64)", path, len(b))
	}
	return b, nil
}

// Keys is the live set of credentials: the tokens file's, the one admin
// token of --api-token, and the registration secret. It is safe for
// concurrent use; Reload swaps the tokens file's at once.
type Keys struct {
	path   string
	admin  string // --api-token: one admin token, "" for none
	secret []byte // nil: no per-VM registration credentials

	set atomic.Pointer[map[[sha256.Size]byte]Identity]

	mu      sync.Mutex
	streams map[[sha256.Size]byte]map[*context.CancelFunc]bool
}

// Options configure Keys.
type Options struct {
	TokensFile string // "" for none
	AdminToken string // --api-token*, "" for none
	Secret     []byte // the registration secret, nil for none
}

// New reads the tokens file, if any.
func New(o Options) (*Keys, error) {
	k := &Keys{path: o.TokensFile, admin: o.AdminToken, secret: o.Secret, streams: map[[sha256.Size]byte]map[*context.CancelFunc]bool{}}
	empty := map[[sha256.Size]byte]Identity{}
	k.set.Store(&empty)
	if o.TokensFile != "" {
		if _, err := k.Reload(); err != nil {
			return nil, err
		}
	}
	if o.AdminToken != "" {
		if _, dup := (*k.set.Load())[digest(o.AdminToken)]; dup {
			return nil, errors.New("--api-token is also a token of --tokens-file; give each credential once")
		}
	}
	return k, nil
}

// Open reports whether no token exists (admin, read or register): the API
// then needs no credential (a loopback manager), but for setting a guest's
// address when a registration secret is set (Registration).
func (k *Keys) Open() bool {
	return k.admin == "" && len(*k.set.Load()) == 0
}

// Registration reports whether a registration secret is set: setting a
// guest's address then needs a credential, even on an open API.
func (k *Keys) Registration() bool { return k.secret != nil }

// Readers reports whether a token that may read exists (an admin or read
// one): what a manager listening beyond loopback needs.
func (k *Keys) Readers() bool {
	if k.admin != "" {
		return true
	}
	for _, id := range *k.set.Load() {
		if id.Role == Admin || id.Role == Read {
			return true
		}
	}
	return false
}

// Reload rereads the tokens file; on an error the set stays as it was.
// Streams opened with a token that is gone are ended. It returns how many
// tokens the file holds now.
func (k *Keys) Reload() (int, error) {
	if k.path == "" {
		return 0, nil
	}
	entries, err := ReadTokensFile(k.path)
	if err != nil {
		return 0, fmt.Errorf("--tokens-file %w", err)
	}
	set := make(map[[sha256.Size]byte]Identity, len(entries))
	for _, e := range entries {
		d := digest(e.Token)
		set[d] = Identity{Name: e.Name, Role: e.Role, Scope: e.Scope, key: d}
	}
	old := *k.set.Load()
	k.set.Store(&set)
	k.mu.Lock()
	for d, cancels := range k.streams {
		// A stream ends with its token, and when the token now has another
		// role or scope: it was opened as what the token was.
		if now, ok := set[d]; !ok || !sameGrant(now, old[d]) {
			for c := range cancels {
				(*c)()
			}
			delete(k.streams, d)
		}
	}
	k.mu.Unlock()
	return len(entries), nil
}

// Lookup returns who token is: a tokens-file token, the admin token, or a
// VM's registration credential. The tokens are compared by their SHA-256
// digests (and a credential by its HMAC), so the time taken says nothing
// about how close a guess was.
func (k *Keys) Lookup(token string) (Identity, bool) {
	if token == "" {
		return Identity{}, false
	}
	d := digest(token)
	if id, ok := (*k.set.Load())[d]; ok {
		return id, true
	}
	if k.admin != "" && hmac.Equal(d[:], digestPtr(k.admin)) {
		return Identity{Name: "api-token", Role: Admin}, true
	}
	if vmID, ok := k.guest(token); ok {
		return Identity{Name: "guest of " + vmID, Role: Guest, VMID: vmID}, true
	}
	return Identity{}, false
}

// sameGrant reports whether a and b allow the same.
func sameGrant(a, b Identity) bool {
	return a.Name == b.Name && a.Role == b.Role && a.Scope.String() == b.Scope.String()
}

// Track ties a stream to the credential that opened it: when a reload
// removes that token, cancel is called. The returned func undoes it.
func (k *Keys) Track(id Identity, cancel context.CancelFunc) (untrack func()) {
	if id.key == ([sha256.Size]byte{}) {
		return func() {}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := (*k.set.Load())[id.key]; !ok { // removed since it was looked up
		cancel()
		return func() {}
	}
	if k.streams[id.key] == nil {
		k.streams[id.key] = map[*context.CancelFunc]bool{}
	}
	p := &cancel
	k.streams[id.key][p] = true
	return func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		delete(k.streams[id.key], p)
		if len(k.streams[id.key]) == 0 {
			delete(k.streams, id.key)
		}
	}
}

func digest(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

func digestPtr(s string) []byte { d := digest(s); return d[:] }
