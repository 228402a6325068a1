package cli

import (
	"context"
	"errors"
	"io"

	"github.com/fcmon/fcmon/internal/core/version"
)

// Command is one of fcmon's programs as Main runs it: its flags, each also
// an environment variable, and what it does with them.
type Command struct {
	Name      string // "guest-agent", "host-agent", "manager"
	EnvPrefix string // "GUEST_AGENT_", ...
	Summary   string // opens the --help text
	// Flags registers the program's configuration on fs.
	Flags func(fs *FlagSet)
	// Run checks the configuration the flags filled and runs until ctx
	// ends. An error wrapped by Usage means bad configuration; any other
	// error, a failure while running.
	Run func(ctx context.Context, stderr io.Writer) error
}

// errUsage marks configuration errors.
var errUsage = errors.New("usage")

type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Unwrap() error        { return e.err }
func (e usageError) Is(target error) bool { return target == errUsage }

// Usage marks err as bad configuration: Main exits 2 for it. nil stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// IsUsage reports whether err was marked by Usage.
func IsUsage(err error) bool { return errors.Is(err, errUsage) }

// Main parses args and the environment (getenv) into cmd's flags, answers
// --help and --version on stdout, runs cmd until ctx ends and returns the
// exit code: 0 after a clean run, 2 for bad configuration, 1 for a failure,
// with a one-line reason on stderr. Every program's main is this call.
func Main(ctx context.Context, cmd Command, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := New(cmd.Name, cmd.EnvPrefix, cmd.Summary)
	cmd.Flags(fs)
	switch err := fs.Parse(args, getenv); {
	case errors.Is(err, ErrHelp):
		fs.WriteUsage(stdout)
		return 0
	case errors.Is(err, ErrVersion):
		io.WriteString(stdout, cmd.Name+" "+version.Version+"\n")
		return 0
	case err != nil:
		io.WriteString(stderr, cmd.Name+": "+err.Error()+"\n")
		return 2
	}
	if err := cmd.Run(ctx, stderr); err != nil {
		io.WriteString(stderr, cmd.Name+": "+err.Error()+"\n")
		if IsUsage(err) {
			return 2
		}
		return 1
	}
	return 0
}
