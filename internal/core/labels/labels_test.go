package labels

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	many := Set{}
	for i := range MaxLabels + 1 {
		many["k"+strings.Repeat("x", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		set  Set
		want string // "" for valid
	}{
		{"none", nil, ""},
		{"tenant", Set{"tenant": "acme", "template": "py-3.12", "_x9": "é ok"}, ""},
		{"digit first", Set{"9lives": "x"}, "Prometheus' rule"},
		{"dash", Set{"team-id": "x"}, "Prometheus' rule"},
		{"dunder", Set{"__name__": "x"}, `starts with "__"`},
		{"fcmon prefix", Set{"fcmon_source": "x"}, `starts with "fcmon_"`},
		{"reserved", Set{"vm_id": "x"}, "fcmon's own series labels"},
		{"empty value", Set{"tenant": ""}, "empty value"},
		{"long value", Set{"tenant": strings.Repeat("a", MaxValueBytes+1)}, "at most 256"},
		{"max value", Set{"tenant": strings.Repeat("a", MaxValueBytes)}, ""},
		{"not utf8", Set{"tenant": "\xff"}, "not UTF-8"},
		{"control", Set{"tenant": "a\nb"}, "control character"},
		{"too many", many, "at most 32"},
		{"long key", Set{strings.Repeat("k", MaxKeyBytes+1): "v"}, "bytes long"},
	} {
		err := tc.set.Check()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Check() = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSelector(t *testing.T) {
	acme := Set{"tenant": "acme", "tier": "prod"}
	dev := Set{"tenant": "acme", "tier": "dev", "gpu": "a100"}
	other := Set{"tenant": "globex"}
	for _, tc := range []struct {
		terms []string
		want  [4]bool // acme, dev, other, nil
	}{
		{nil, [4]bool{true, true, true, true}},
		{[]string{"tenant=acme"}, [4]bool{true, true, false, false}},
		{[]string{"tenant=acme", "tier!=dev"}, [4]bool{true, false, false, false}},
		{[]string{"tier!=dev"}, [4]bool{true, false, true, true}},
		{[]string{"gpu"}, [4]bool{false, true, false, false}},
		{[]string{"!gpu"}, [4]bool{true, false, true, true}},
		{[]string{"tenant=a=b"}, [4]bool{false, false, false, false}},
	} {
		sel, err := Parse(tc.terms)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.terms, err)
		}
		for i, s := range []Set{acme, dev, other, nil} {
			if got := sel.Matches(s); got != tc.want[i] {
				t.Errorf("%q matches %v = %v, want %v", tc.terms, s, got, tc.want[i])
			}
		}
		back, err := Parse(sel.Terms())
		if err != nil || back.String() != sel.String() {
			t.Errorf("%q: terms %q read back as %q (%v)", tc.terms, sel.Terms(), back.String(), err)
		}
	}
	for _, bad := range []struct{ term, want string }{
		{"", "empty"},
		{"=acme", "empty"},
		{"tenant=", "no value"},
		{"tenant!=", "no value"},
		{"!", "empty"},
		{"te nant=x", "Prometheus' rule"},
		{"__name__=x", "reserves"},
		{"tenant=" + strings.Repeat("v", 300), "at most 256"},
		{"tenant==acme", ""}, // the value "=acme": valid
	} {
		_, err := ParseTerm(bad.term)
		if bad.want == "" {
			if err != nil {
				t.Errorf("ParseTerm(%q) = %v, want no error", bad.term, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseTerm(%q) = %v, want %q", bad.term, err, bad.want)
		}
	}
	if _, err := Parse(make([]string, MaxTerms+1)); err == nil || !strings.Contains(err.Error(), "at most 16") {
		t.Errorf("17 terms: %v", err)
	}
	sel, err := ParseList("tenant=acme,tier!=dev")
	if err != nil || !sel.Matches(acme) || sel.Matches(dev) {
		t.Errorf("ParseList: %v %v", sel, err)
	}
	if _, err := ParseList(""); err == nil {
		t.Error("ParseList(\"\") read an empty selector")
	}
	if got := sel.And(Selector{}).String(); got != "tenant=acme,tier!=dev" {
		t.Errorf("And(empty) = %q", got)
	}
}

func TestParseFile(t *testing.T) {
	s, err := ParseFile([]byte(` {"tenant": "acme", "template": "py"} `))
	if err != nil || !s.Equal(Set{"tenant": "acme", "template": "py"}) {
		t.Fatalf("ParseFile = %v, %v", s, err)
	}
	if s, err := ParseFile([]byte(`{}`)); err != nil || s != nil {
		t.Errorf("{} = %v, %v; want no labels", s, err)
	}
	for _, bad := range []struct{ data, want string }{
		{``, "not JSON"},
		{`[]`, "JSON object"},
		{`"x"`, "JSON object"},
		{`{"tenant": 1}`, "not a string"},
		{`{"tenant": {"a": "b"}}`, "not a string"},
		{`{"tenant": "a", "tenant": "b"}`, "twice"},
		{`{"tenant": "a"} {}`, "after the object"},
		{`{"tenant": "a"} x`, "after the object"},
		{`{"tenant": "a"`, "not JSON"},
		{`{"vm_id": "a"}`, "fcmon's own"},
		{`{"tenant": ""}`, "empty value"},
		{strings.Repeat(" ", MaxFileBytes+1), "at most"},
	} {
		_, err := ParseFile([]byte(bad.data))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseFile(%.40q) = %v, want %q", bad.data, err, bad.want)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	for _, s := range []Set{nil, {"tenant": "acme", "q": `"quoted" ünïcode`}} {
		back, err := Decode(s.Encode())
		if err != nil || !back.Equal(s) {
			t.Errorf("Decode(Encode(%v)) = %v, %v", s, back, err)
		}
	}
	if got := Merge(Set{"a": "1", "b": "1"}, nil, Set{"b": "2"}); !got.Equal(Set{"a": "1", "b": "2"}) {
		t.Errorf("Merge = %v", got)
	}
	if Merge(nil, Set{}) != nil {
		t.Error("Merge of nothing is not nil")
	}
}

func FuzzParseTerm(f *testing.F) {
	for _, s := range []string{"tenant=acme", "tier!=dev", "gpu", "!gpu", "a!=", "!=", "=", "x=é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		term, err := ParseTerm(s)
		if err != nil {
			return
		}
		// What parses prints back to the same term.
		again, err := ParseTerm(term.String())
		if err != nil || again != term {
			t.Fatalf("%q parsed as %+v, printed %q, read back %+v (%v)", s, term, term.String(), again, err)
		}
	})
}

func FuzzParseFile(f *testing.F) {
	for _, s := range []string{`{"tenant":"acme"}`, `{}`, `{"a":1}`, `[`, `{"a":"b"}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseFile(data)
		if err != nil {
			return
		}
		if err := s.Check(); err != nil {
			t.Fatalf("ParseFile accepted labels Check refuses: %v", err)
		}
		back, err := Decode(s.Encode())
		if err != nil || !back.Equal(s) {
			t.Fatalf("%v does not round-trip: %v %v", s, back, err)
		}
	})
}

func TestParseCopied(t *testing.T) {
	got, err := ParseCopied(" tenant, template ,,")
	if err != nil || len(got) != 2 || got[0] != "tenant" || got[1] != "template" {
		t.Fatalf("ParseCopied = %q, %v", got, err)
	}
	for in, want := range map[string]string{
		"tenant,tenant":     "twice",
		"source":            "series labels",
		"vm_id":             "fcmon's own",
		"a-b":               "Prometheus' rule",
		"a,b,c,d,e,f,g,h,i": "at most 8",
	} {
		if _, err := ParseCopied(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCopied(%q) = %v, want %q", in, err, want)
		}
	}
}
