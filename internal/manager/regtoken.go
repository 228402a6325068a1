package manager

import (
	"flag"
	"fmt"
	"io"

	"github.com/fcmon/fcmon/internal/manager/access"
	"github.com/fcmon/fcmon/internal/manager/store"
)

// RegistrationTokenMain is `manager registration-token
// --registration-secret-file FILE VM_ID`: it prints the credential the
// guest of VM VM_ID (the manager's UUID of it) registers its own address
// with, alone on stdout, for a launcher to hand to the guest
// (guest_agent.register_token= on the kernel command line). It returns the
// exit code: 0, or 2 for bad arguments.
func RegistrationTokenMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("manager registration-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secretFile := fs.String("registration-secret-file", "", "the manager's --registration-secret-file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: manager registration-token --registration-secret-file FILE VM_ID\n\nprints the registration credential of VM VM_ID (a UUID): it lets a guest set its own VM's address and nothing else")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "manager registration-token:", err)
		return 2
	}
	if *secretFile == "" || fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	id, ok := store.ParseUUID(fs.Arg(0))
	if !ok {
		return fail(fmt.Errorf("VM_ID %q is not a UUID (the manager's id of the VM)", fs.Arg(0)))
	}
	secret, err := access.ReadSecretFile(*secretFile)
	if err != nil {
		return fail(fmt.Errorf("--registration-secret-file %w", err))
	}
	fmt.Fprintln(stdout, access.RegistrationToken(secret, id))
	return 0
}
