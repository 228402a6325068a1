// Package cli parses the command lines of fcmon's programs: long flags
// (--name value or --name=value), each also settable by an environment
// variable, plus --help and --version. It avoids the flag and fmt packages
// so that the guest agent stays within its size budget.
package cli

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrHelp is returned by Parse when --help or -h was given.
var ErrHelp = errors.New("help requested")

// ErrVersion is returned by Parse when --version was given.
var ErrVersion = errors.New("version requested")

type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindDuration
)

type flag struct {
	name, env, usage, def string
	alias                 string // a second variable read when env is unset
	kind                  kind
	set                   func(string) error
}

// FlagSet is a program's set of flags. The zero value is not usable; call New.
type FlagSet struct {
	program, envPrefix, summary string
	flags                       []*flag
}

// New returns an empty FlagSet for program. Each flag --some-name is also read
// from the environment variable envPrefix+"SOME_NAME" (for example
// GUEST_AGENT_LISTEN); summary opens the --help text.
func New(program, envPrefix, summary string) *FlagSet {
	return &FlagSet{program: program, envPrefix: envPrefix, summary: summary}
}

// EnvName returns the environment variable that sets flag name.
func (fs *FlagSet) EnvName(name string) string {
	return fs.envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func (fs *FlagSet) add(name, usage, def string, k kind, set func(string) error) {
	fs.flags = append(fs.flags, &flag{name: name, env: fs.EnvName(name), usage: usage, def: def, kind: k, set: set})
	if err := set(def); err != nil {
		panic("cli: bad default for --" + name + ": " + err.Error())
	}
}

// String defines a string flag stored in *p.
func (fs *FlagSet) String(p *string, name, def, usage string) {
	fs.add(name, usage, def, kindString, func(v string) error { *p = v; return nil })
}

// Int defines an integer flag stored in *p.
func (fs *FlagSet) Int(p *int, name string, def int, usage string) {
	fs.add(name, usage, strconv.Itoa(def), kindInt, func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return errors.New("expected an integer")
		}
		*p = n
		return nil
	})
}

// Bool defines a boolean flag stored in *p. On the command line --name alone
// means true; --name=false and the environment accept the usual spellings.
func (fs *FlagSet) Bool(p *bool, name string, def bool, usage string) {
	fs.add(name, usage, strconv.FormatBool(def), kindBool, func(v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return errors.New("expected true or false")
		}
		*p = b
		return nil
	})
}

// Duration defines a duration flag (such as 1s or 500ms) stored in *p.
func (fs *FlagSet) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	fs.add(name, usage, def.String(), kindDuration, func(v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return errors.New("expected a duration such as 1s or 500ms")
		}
		*p = d
		return nil
	})
}

// EnvAlias makes flag name also read from the variable env when its own
// variable is unset (DATABASE_URL for MANAGER_DATABASE_URL, say).
func (fs *FlagSet) EnvAlias(name, env string) {
	f := fs.lookup(name)
	if f == nil {
		panic("cli: EnvAlias of undefined flag --" + name)
	}
	f.alias = env
}

func (fs *FlagSet) lookup(name string) *flag {
	for _, f := range fs.flags {
		if f.name == name {
			return f
		}
	}
	return nil
}

// Parse applies the environment (through getenv, usually os.Getenv) and then
// args, so a flag on the command line wins over its variable. It returns
// ErrHelp or ErrVersion when asked for those, and otherwise an error naming
// the offending flag or variable. Positional arguments are refused.
func (fs *FlagSet) Parse(args []string, getenv func(string) string) error {
	for _, f := range fs.flags {
		env := f.env
		v := getenv(env)
		if v == "" && f.alias != "" {
			env, v = f.alias, getenv(f.alias)
		}
		if v != "" {
			if err := f.set(v); err != nil {
				return errors.New("invalid value " + strconv.Quote(v) + " in " + env + ": " + err.Error())
			}
		}
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "-h" || arg == "--help" || arg == "-help" {
			return ErrHelp
		}
		if arg == "--version" || arg == "-version" {
			return ErrVersion
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
			return errors.New("unexpected argument " + strconv.Quote(arg) + " (flags start with --)")
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		f := fs.lookup(name)
		if f == nil {
			return errors.New("unknown flag --" + name + " (see --help)")
		}
		if !hasValue {
			if f.kind == kindBool {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			} else {
				return errors.New("flag --" + name + " needs a value")
			}
		}
		if err := f.set(value); err != nil {
			return errors.New("invalid value " + strconv.Quote(value) + " for --" + name + ": " + err.Error())
		}
	}
	return nil
}

// WriteUsage writes the --help text: the summary, then every flag with its
// variable, default and meaning.
func (fs *FlagSet) WriteUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(fs.summary)
	b.WriteString("\n\nUsage: " + fs.program + " [flags]\n\nFlags:\n")
	for _, f := range fs.flags {
		b.WriteString("  --" + f.name)
		switch f.kind {
		case kindString:
			b.WriteString(" string")
		case kindInt:
			b.WriteString(" int")
		case kindDuration:
			b.WriteString(" duration")
		}
		b.WriteString("\n      " + f.usage)
		if f.def != "" && f.def != "false" {
			b.WriteString(" (default " + f.def + ")")
		}
		b.WriteString("\n      env " + f.env)
		if f.alias != "" {
			b.WriteString(" or " + f.alias)
		}
		b.WriteString("\n")
	}
	b.WriteString("  --help\n      show this help\n  --version\n      print the version and exit\n")
	io.WriteString(w, b.String())
}
