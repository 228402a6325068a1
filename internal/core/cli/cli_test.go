package cli

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type opts struct {
	listen   string
	interval time.Duration
	n        int
	insecure bool
}

func newSet(o *opts) *FlagSet {
	fs := New("prog", "PROG_", "prog does things")
	fs.String(&o.listen, "listen", "0.0.0.0:8080", "address")
	fs.Duration(&o.interval, "interval", time.Second, "period")
	fs.Int(&o.n, "max-conns", 512, "limit")
	fs.Bool(&o.insecure, "insecure", false, "allow")
	return fs
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want opts
		err  string
	}{
		{name: "defaults", want: opts{"0.0.0.0:8080", time.Second, 512, false}},
		{name: "space and equals", args: []string{"--listen", "127.0.0.1:1", "--interval=250ms", "-max-conns=3", "--insecure"},
			want: opts{"127.0.0.1:1", 250 * time.Millisecond, 3, true}},
		{name: "env", env: map[string]string{"PROG_LISTEN": "vsock://:1024", "PROG_MAX_CONNS": "7", "PROG_INSECURE": "true"},
			want: opts{"vsock://:1024", time.Second, 7, true}},
		{name: "flag beats env", args: []string{"--listen=a:1"}, env: map[string]string{"PROG_LISTEN": "b:2"},
			want: opts{"a:1", time.Second, 512, false}},
		{name: "bool false", args: []string{"--insecure=false"}, env: map[string]string{"PROG_INSECURE": "1"},
			want: opts{"0.0.0.0:8080", time.Second, 512, false}},
		{name: "unknown", args: []string{"--nope"}, err: "unknown flag --nope"},
		{name: "missing value", args: []string{"--listen"}, err: "flag --listen needs a value"},
		{name: "bad duration", args: []string{"--interval", "fast"}, err: `invalid value "fast" for --interval`},
		{name: "bad env", env: map[string]string{"PROG_MAX_CONNS": "many"}, err: `invalid value "many" in PROG_MAX_CONNS`},
		{name: "positional", args: []string{"serve"}, err: `unexpected argument "serve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o opts
			err := newSet(&o).Parse(tt.args, env(tt.env))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o != tt.want {
				t.Errorf("got %+v, want %+v", o, tt.want)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	var o opts
	fs := newSet(&o)
	if err := fs.Parse([]string{"--interval=2s", "--help"}, env(nil)); !errors.Is(err, ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	if err := fs.Parse([]string{"--version"}, env(nil)); !errors.Is(err, ErrVersion) {
		t.Errorf("--version: %v", err)
	}
	var b strings.Builder
	fs.WriteUsage(&b)
	for _, want := range []string{"prog does things", "--listen string", "(default 0.0.0.0:8080)", "env PROG_MAX_CONNS", "--insecure\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
}
