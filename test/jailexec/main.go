// Command jailexec jails a program as Firecracker's jailer does, for tests:
// started as root in a mount namespace of its own (the caller's
// CLONE_NEWNS), it makes that namespace a slave of the host's, bind-mounts
// the jail directory onto itself, pivot_roots into it, drops the old root,
// becomes the given uid and gid and executes the program inside the jail.
// After it, /proc/PID/root of the program reads "/" from the host, as it
// does for a real jailed Firecracker.
//
//	jailexec DIR UID GID PROGRAM [ARG...]   (PROGRAM as the jail sees it)
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: jailexec DIR UID GID PROGRAM [ARG...]")
		os.Exit(2)
	}
	if err := jail(os.Args[1], os.Args[2], os.Args[3], os.Args[4:]); err != nil {
		fmt.Fprintln(os.Stderr, "jailexec:", err)
		os.Exit(1)
	}
}

func jail(dir, uidS, gidS string, argv []string) error {
	uid, err1 := strconv.Atoi(uidS)
	gid, err2 := strconv.Atoi(gidS)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("uid %q and gid %q must be numbers", uidS, gidS)
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"making the mounts private", func() error { return syscall.Mount("", "/", "", syscall.MS_SLAVE|syscall.MS_REC, "") }},
		{"bind-mounting the jail", func() error { return syscall.Mount(dir, dir, "", syscall.MS_BIND|syscall.MS_REC, "") }},
		{"entering the jail", func() error { return syscall.Chdir(dir) }},
		{"making the old root's place", func() error { return os.MkdirAll("old-root", 0o700) }},
		{"pivot_root", func() error { return syscall.PivotRoot(".", "old-root") }},
		{"dropping the old root", func() error { return syscall.Unmount("/old-root", syscall.MNT_DETACH) }},
		{"removing its place", func() error { return os.Remove("/old-root") }},
		{"chroot", func() error { return syscall.Chroot("/") }},
		{"chdir", func() error { return syscall.Chdir("/") }},
		{"setgroups", func() error { return syscall.Setgroups(nil) }},
		{"setgid", func() error { return syscall.Setgid(gid) }},
		{"setuid", func() error { return syscall.Setuid(uid) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return syscall.Exec(argv[0], argv, os.Environ())
}
