// Package bearer is the one bearer-token check of all three programs: how a
// token is read from its file, taken from an Authorization header and
// compared. It uses neither net/http nor fmt-heavy helpers, so the guest
// agent can afford it.
package bearer

import (
	"crypto/subtle"
	"errors"
	"os"
	"strings"
)

// FromHeader returns the token of an Authorization header value, "" when
// the value is not of the Bearer scheme. The scheme is case-insensitive
// (RFC 9110 §11.1) and surrounding whitespace is no part of the token.
func FromHeader(value string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(value), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Equal reports whether got is the token want. Its running time depends on
// the length of got alone, never on want's content or length, so a client
// learns nothing about the token from how long a refusal takes. An empty
// want matches nothing.
func Equal(got, want string) bool {
	if want == "" || len(got) > 1<<20 {
		return false
	}
	var diff byte
	for i := 0; i < len(got); i++ {
		diff |= got[i] ^ want[i%len(want)]
	}
	sameLen := subtle.ConstantTimeEq(int32(len(got)), int32(len(want)))
	return sameLen&subtle.ConstantTimeByteEq(diff, 0) == 1
}

// Check reports whether the Authorization header value carries want.
func Check(header, want string) bool {
	return Equal(FromHeader(header), want)
}

// ReadFile reads the token file at path for the flag that named it.
// Surrounding whitespace (a trailing newline) is no part of the token; an
// empty file or one holding more than one word is an error, so a mistake
// never silently turns authentication off. Errors name the flag and are
// one line.
func ReadFile(flag, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", errors.New(flag + ": " + err.Error())
	}
	token := strings.TrimSpace(string(b))
	switch {
	case token == "":
		return "", errors.New(flag + " " + path + " is empty")
	case strings.ContainsAny(token, " \t\r\n"):
		return "", errors.New(flag + " " + path + " holds more than one word; a token has no whitespace")
	}
	return token, nil
}
