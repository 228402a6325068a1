package bearer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromHeader(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Bearer abc", "abc"},
		{"bearer abc", "abc"}, // RFC 9110: the scheme is case-insensitive
		{"BEARER  abc ", "abc"},
		{"Basic abc", ""},
		{"Bearer", ""},
		{"", ""},
		{"Bearerabc", ""},
	} {
		if got := FromHeader(tc.in); got != tc.want {
			t.Errorf("FromHeader(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEqual(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{"s3cret", "s3cret", true},
		{"s3cre", "s3cret", false},
		{"s3crets", "s3cret", false},
		{"s3cret" + "s3cret", "s3cret", false}, // a repetition of the token is not the token
		{"S3cret", "s3cret", false},
		{"", "s3cret", false},
		{"", "", false},
		{"x", "", false},
	} {
		if got := Equal(tc.got, tc.want); got != tc.ok {
			t.Errorf("Equal(%q, %q) = %v, want %v", tc.got, tc.want, got, tc.ok)
		}
	}
	if !Check("bearer tok", "tok") || Check("Bearer tok2", "tok") {
		t.Error("Check does not combine FromHeader and Equal")
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tok, err := ReadFile("--token-file", write("ok", "abc\n"))
	if err != nil || tok != "abc" {
		t.Fatalf("ReadFile = %q, %v", tok, err)
	}
	for name, body := range map[string]string{"empty": " \n", "two": "a b\n"} {
		if _, err := ReadFile("--token-file", write(name, body)); err == nil || !strings.HasPrefix(err.Error(), "--token-file ") {
			t.Errorf("%s: err = %v, want one naming the flag", name, err)
		}
	}
	if _, err := ReadFile("--x", filepath.Join(dir, "absent")); err == nil || !strings.Contains(err.Error(), "--x") {
		t.Errorf("absent file: err = %v", err)
	}
}

func FuzzFromHeader(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x ", "Basic y", ""} {
		f.Add(s, "abc")
	}
	f.Fuzz(func(t *testing.T, header, want string) {
		tok := FromHeader(header)
		if strings.ContainsAny(tok, " \t") && strings.TrimSpace(tok) != tok {
			t.Fatalf("token %q keeps surrounding whitespace", tok)
		}
		if Check(header, want) && (want == "" || tok != want) {
			t.Fatalf("Check(%q, %q) accepted a token that is not want", header, want)
		}
	})
}
