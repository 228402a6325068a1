package procfs

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// parseCase is one row of a parser table: input, and either the exact
// result or a substring of the error.
type parseCase[T any] struct {
	name string
	in   string
	want T
	err  string
}

func runParseCases[T any](t *testing.T, parse func([]byte) (T, error), cases []parseCase[T]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Errorf("error %T is not a *ParseError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseUint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  error
	}{
		{"0", 0, nil},
		{"42", 42, nil},
		{"007", 7, nil},
		{"18446744073709551615", math.MaxUint64, nil},
		{"000000000000000000000018446744073709551615", math.MaxUint64, nil},
		{"18446744073709551616", 0, errOverflow},
		{"99999999999999999999", 0, errOverflow},
		{"", 0, errNotNumber},
		{"-1", 0, errNotNumber},
		{"+1", 0, errNotNumber},
		{"1_000", 0, errNotNumber},
		{"0x10", 0, errNotNumber},
		{"1.5", 0, errNotNumber},
		{"12a", 0, errNotNumber},
	} {
		got, err := parseUint(tc.in)
		if got != tc.want || err != tc.err {
			t.Errorf("parseUint(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
		if gotB, errB := parseUint([]byte(tc.in)); gotB != got || errB != err {
			t.Errorf("parseUint([]byte(%q)) differs from the string version", tc.in)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0.00", 0, true},
		{"1.94", 1.94, true},
		{"12345", 12345, true},
		{"100.00", 100, true},
		{"", 0, false},
		{".5", 0, false},
		{"5.", 0, false},
		{"1.2.3", 0, false},
		{"-1.0", 0, false},
		{"1e3", 0, false},
		{"inf", 0, false},
		{"NaN", 0, false},
		{"0x1p3", 0, false},
		{"1_0", 0, false},
		{strings.Repeat("9", 400), 0, false}, // overflows float64
	} {
		got, err := parseDecimal(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDecimal(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestUnescapeOctal(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"/plain", "/plain", true},
		{`/a\040b`, "/a b", true},
		{`\011\012\134\043`, "\t\n\\#", true},
		{`\377`, "\xff", true},
		{`/a\40b`, "", false},
		{`/a\`, "", false},
		{`/a\04`, "", false},
		{`\400`, "", false},
		{`\08x`, "", false},
	} {
		got, ok := unescapeOctal(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("unescapeOctal(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCheckTerminated(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
	}{
		{"", 0},
		{"a\n", 0},
		{"a\nb\n", 0},
		{"a", 1},
		{"a\nb", 2},
		{"a\n\nc", 3},
	} {
		err := checkTerminated(tc.in)
		var pe *ParseError
		switch {
		case tc.line == 0 && err != nil:
			t.Errorf("checkTerminated(%q) = %v", tc.in, err)
		case tc.line != 0 && (!errors.As(err, &pe) || pe.Line != tc.line):
			t.Errorf("checkTerminated(%q) = %v, want an error on line %d", tc.in, err, tc.line)
		}
	}
}

func TestParseErrorMessage(t *testing.T) {
	err := parseErr("/proc/stat", lineErr(3, "cpu0 column 2 \"x\": not a number"))
	if got, want := err.Error(), `parse /proc/stat: line 3: cpu0 column 2 "x": not a number`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := quote(strings.Repeat("a", 100)); len(got) > 50 {
		t.Errorf("quote of 100 bytes is %d bytes long", len(got))
	}
}
