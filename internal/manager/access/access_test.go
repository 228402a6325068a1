package access

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fcmon/fcmon/internal/core/labels"
)

func TestParseTokens(t *testing.T) {
	good := "# comment\n\nadmin ops  aaaaaaaaaaaaaaaa   # trailing\nread grafana bbbbbbbbbbbbbbbb\nregister launcher cccccccccccccccc\n" +
		"read acme dddddddddddddddd tenant=acme,tier!=dev\n"
	es, err := ParseTokens([]byte(good))
	if err != nil || len(es) != 4 || es[0].Role != Admin || es[0].Name != "ops" || es[0].Token != "aaaaaaaaaaaaaaaa" ||
		!es[0].Scope.Empty() || es[2].Role != Register {
		t.Fatalf("ParseTokens = %+v, %v", es, err)
	}
	if sc := es[3].Scope; sc.String() != "tenant=acme,tier!=dev" || !sc.Matches(labels.Set{"tenant": "acme"}) || sc.Matches(labels.Set{"tenant": "acme", "tier": "dev"}) {
		t.Errorf("the scope of acme: %q", sc)
	}
	for in, want := range map[string]string{
		"root x aaaaaaaaaaaaaaaa": "line 1: role \"root\"",
		"read x short":            "at least 16",
		"read x aaaaaaaaaaaaaaaa\nread x bbbbbbbbbbbbbbbb": "line 2: name \"x\" is line 1's too",
		"read x aaaaaaaaaaaaaaaa\nread y aaaaaaaaaaaaaaaa": "line 2: the token of \"y\" is line 1's too",
		"admin x aaaaaaaaaaaaaaaa tenant=acme":             "only a read token",
		"register x aaaaaaaaaaaaaaaa tenant=acme":          "only a read token",
		"read x aaaaaaaaaaaaaaaa tenant=":                  "no value",
		"read x aaaaaaaaaaaaaaaa __x=1":                    "reserves",
		"read":                                             "got 1 fields",
		"read n/a aaaaaaaaaaaaaaaa":                        "name",
		"read x aaaaaaaa\x01aaaaaaaa":                      "printable",
	} {
		if _, err := ParseTokens([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("admin ops aaaaaaaaaaaaaaaa\n# x\nread r bbbbbbbbbbbbbbbb"))
	f.Add([]byte("register  l\tcccccccccccccccc # c\r\n"))
	f.Add([]byte("read t dddddddddddddddd tenant=acme,!gpu\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := ParseTokens(data)
		if err != nil {
			return
		}
		names := map[string]bool{}
		for _, e := range es {
			if !e.Role.Allows(Read) && e.Role != Register || names[e.Name] || len(e.Token) < 16 || strings.ContainsAny(e.Token, " \t\r\n#") {
				t.Fatalf("accepted %+v from %q", e, data)
			}
			names[e.Name] = true
		}
	})
}

func TestRegistrationCredential(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k, err := New(Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	const a = "6f1c2a4e-8d3b-4c5a-9e7f-1a2b3c4d5e6f"
	cred := RegistrationToken(secret, strings.ToUpper(a))
	id, ok := k.Lookup(cred)
	if !ok || id.Role != Guest || id.VMID != a {
		t.Fatalf("Lookup(%s) = %+v, %v", cred, id, ok)
	}
	other, _ := New(Options{Secret: []byte("another secret, also 32 bytes lo")})
	forged := strings.Replace(cred, a, "00000000-0000-4000-8000-000000000000", 1)
	for _, bad := range []string{forged, cred[:len(cred)-1], cred + "0", "reg." + a, "reg..00"} {
		if _, ok := k.Lookup(bad); ok {
			t.Errorf("%q is accepted", bad)
		}
	}
	if _, ok := other.Lookup(cred); ok {
		t.Error("a credential of another secret is accepted")
	}
	if Guest.Allows(Read) || Guest.Allows(Anyone) || !Guest.Allows(Register) || Read.Allows(Register) || Register.Allows(Read) || !Admin.Allows(Register) {
		t.Error("the roles allow what they should not")
	}
}

func TestFilesOnlyTheOwnerReads(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("read r bbbbbbbbbbbbbbbb\n"), 0o640)
	if _, err := ReadTokensFile(p); err == nil || !strings.Contains(err.Error(), "others than its owner") {
		t.Errorf("a group-readable tokens file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "s"), []byte("short"), 0o600)
	if _, err := ReadSecretFile(filepath.Join(dir, "s")); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Errorf("a short secret: %v", err)
	}
	if _, err := New(Options{TokensFile: p}); err == nil {
		t.Error("New reads a group-readable tokens file")
	}
}
