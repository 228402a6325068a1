package httpd

import "testing"

const (
	jsonType = "application/json"
	textType = "text/plain"
	omType   = "application/openmetrics-text"
)

func TestPreferredType(t *testing.T) {
	tests := []struct {
		name, accept string
		offers       []string
		want         string
	}{
		{"curl", "*/*", []string{jsonType, textType}, jsonType},
		{"no accept", "", []string{jsonType, textType}, jsonType},
		{"json", "application/json", []string{jsonType, textType}, jsonType},
		{"text", "text/plain", []string{jsonType, textType}, textType},
		{"prometheus 2",
			"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
				"text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
			[]string{jsonType, textType}, textType},
		{"prometheus 2 with openmetrics offered",
			"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
				"text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
			[]string{jsonType, textType, omType}, omType},
		{"prometheus 3",
			"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6," +
				"application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4," +
				"text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
			[]string{jsonType, textType}, textType},
		{"browser",
			"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
			[]string{jsonType, textType}, jsonType},
		{"type wildcard", "text/*;q=0.9, application/json;q=0.5", []string{jsonType, textType}, textType},
		{"specific beats wildcard", "text/*;q=0.9, text/plain;q=0.1, application/*;q=0.5",
			[]string{textType, jsonType}, jsonType},
		{"q=0 excludes", "application/json;q=0, */*", []string{jsonType, textType}, textType},
		{"q=0 on everything", "*/*;q=0", []string{jsonType, textType}, ""},
		{"no match", "image/png", []string{jsonType, textType}, ""},
		{"tie goes to first offer", "text/plain;q=0.5, application/json;q=0.5", []string{textType, jsonType}, textType},
		{"case-insensitive", "TEXT/Plain; Q=0.9, application/json;q=0.1", []string{jsonType, textType}, textType},
		{"spaces", " text/plain ; q=1.000 , application/json ; q = 0.5", []string{jsonType, textType}, textType},
		{"garbled", "garbage", []string{jsonType, textType}, jsonType},
		{"garbled q", "text/plain;q=2", []string{jsonType, textType}, jsonType},
		{"garbled q skipped", "text/plain;q=x, application/json;q=0.1", []string{textType, jsonType}, jsonType},
		{"invalid wildcard", "*/json", []string{jsonType, textType}, jsonType},
		{"empty elements", ",,text/plain,,", []string{jsonType, textType}, textType},
		{"offer params ignored", "text/plain", []string{jsonType, "text/plain; version=0.0.4"}, "text/plain; version=0.0.4"},
		{"no offers", "*/*", nil, ""},
	}
	for _, tt := range tests {
		if got := PreferredType(tt.accept, tt.offers...); got != tt.want {
			t.Errorf("%s: PreferredType(%q, %q) = %q; want %q", tt.name, tt.accept, tt.offers, got, tt.want)
		}
	}
}

func TestParseQValue(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"1", 1000, true}, {"1.", 1000, true}, {"1.000", 1000, true}, {"0", 0, true},
		{"0.5", 500, true}, {"0.001", 1, true}, {"0.75", 750, true},
		{"1.001", 0, false}, {"0.0001", 0, false}, {"2", 0, false}, {"", 0, false},
		{".5", 0, false}, {"0,5", 0, false}, {"-0", 0, false}, {"0.5x", 0, false},
	}
	for _, tt := range tests {
		if got, ok := parseQValue(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("parseQValue(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPreferredTypeAllocs(t *testing.T) {
	accept := "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	if n := testing.AllocsPerRun(100, func() { PreferredType(accept, jsonType, textType) }); n != 0 {
		t.Errorf("PreferredType allocates %v times; want 0", n)
	}
}
