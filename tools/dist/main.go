// Command dist builds fcmon's packages into dist/ with nfpm: .deb and .rpm
// of fcmon-manager and fcmon-host-agent, .deb, .rpm and .apk of
// fcmon-guest-agent, and SHA256SUMS. It takes the programs `make` built in
// bin/, the units and defaults in deploy/, and the nfpm configurations in
// deploy/nfpm/. Versions come from git (a vX.Y.Z tag at HEAD, else 0.0.0
// with the commit's time), and every time stamp in a package is
// SOURCE_DATE_EPOCH (else the commit's time), so the same commit gives the
// same bytes.
//
// It is a module of its own so that nfpm's dependencies stay out of the
// programs' go.mod. Run it through `make dist`.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/apk"
	_ "github.com/goreleaser/nfpm/v2/deb"
	_ "github.com/goreleaser/nfpm/v2/rpm"
)

// pkg is one package (its systemd unit has its name): the program it
// carries and its formats.
type pkg struct {
	name    string // also its nfpm config's name, deploy/nfpm/<name>.yaml
	program string // in bin/
	formats []string
	user    bool // runs as the fcmon system user, made by postinst
}

var pkgs = []pkg{
	{name: "fcmon-manager", program: "manager", formats: []string{"deb", "rpm"}, user: true},
	{name: "fcmon-host-agent", program: "host-agent", formats: []string{"deb", "rpm"}, user: true},
	{name: "fcmon-guest-agent", program: "guest-agent", formats: []string{"deb", "rpm", "apk"}},
}

func main() {
	root := flag.String("root", "../..", "the repository")
	out := flag.String("out", "", "where the packages go (default ROOT/dist)")
	bin := flag.String("bin", "", "where the programs are (default ROOT/bin)")
	flag.Parse()
	if *out == "" {
		*out = filepath.Join(*root, "dist")
	}
	if *bin == "" {
		*bin = filepath.Join(*root, "bin")
	}
	if err := run(*root, *bin, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run(root, bin, out string) error {
	version, prerelease, epoch, err := gitVersion(root)
	if err != nil {
		return err
	}
	// nfpm reads SOURCE_DATE_EPOCH for the time of every file it writes.
	if os.Getenv("SOURCE_DATE_EPOCH") == "" {
		os.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(epoch, 10))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(out, ".stage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	if err := prepare(root, bin, stage); err != nil {
		return err
	}
	// Every staged file at the commit's time too: apk takes the maintainer
	// scripts' times from the files.
	at := time.Unix(epoch, 0)
	if v, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
		at = time.Unix(v, 0)
	}
	err = filepath.WalkDir(stage, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(path, at, at)
	})
	if err != nil {
		return err
	}
	vars := map[string]string{"VERSION": version, "PRERELEASE": prerelease, "ARCH": runtime.GOARCH, "STAGE": stage}
	var made []string
	for _, p := range pkgs {
		for _, format := range p.formats {
			name, err := build(filepath.Join(root, "deploy", "nfpm", p.name+".yaml"), format, vars, out)
			if err != nil {
				return fmt.Errorf("%s %s: %w", p.name, format, err)
			}
			made = append(made, name)
		}
	}
	return checksums(out, made)
}

// gitVersion is the packages' version: X.Y.Z of a vX.Y.Z tag at HEAD, else
// 0.0.0 with the prerelease git<the commit's UTC time>, which sorts in
// commit order; and the commit's time in Unix seconds.
func gitVersion(root string) (version, prerelease string, epoch int64, err error) {
	t, err := git(root, "log", "-1", "--format=%ct")
	if err != nil {
		return "", "", 0, err
	}
	epoch, err = strconv.ParseInt(t, 10, 64)
	if err != nil {
		return "", "", 0, fmt.Errorf("git log: commit time %q: %w", t, err)
	}
	tags, _ := git(root, "tag", "--points-at", "HEAD", "--list", "v[0-9]*")
	for _, tag := range strings.Fields(tags) {
		if regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(tag) {
			return tag[1:], "", epoch, nil
		}
	}
	return "0.0.0", "git" + time.Unix(epoch, 0).UTC().Format("20060102150405"), epoch, nil
}

func git(root string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(b)), nil
}

// prepare puts in stage what the configurations name: the programs under
// their installed names, the units and defaults, the guest agent's unit
// and OpenRC script with the packaged paths, and the maintainer scripts.
func prepare(root, bin, stage string) error {
	for _, p := range pkgs {
		if err := copyFile(filepath.Join(bin, p.program), filepath.Join(stage, p.name), 0o755); err != nil {
			return fmt.Errorf("%w (run make first)", err)
		}
		if err := scripts(stage, p); err != nil {
			return err
		}
	}
	// fcmonctl, the command line for people, comes with the manager.
	if err := copyFile(filepath.Join(bin, "fcmonctl"), filepath.Join(stage, "fcmonctl"), 0o755); err != nil {
		return fmt.Errorf("%w (run make first)", err)
	}
	deploy := filepath.Join(root, "deploy")
	for _, f := range [][2]string{
		{"systemd/fcmon-manager.service", "fcmon-manager.service"},
		{"systemd/fcmon-host-agent.service", "fcmon-host-agent.service"},
		{"default/fcmon-manager", "default/fcmon-manager"},
		{"default/fcmon-host-agent", "default/fcmon-host-agent"},
	} {
		if err := copyFile(filepath.Join(deploy, f[0]), filepath.Join(stage, f[1]), 0o644); err != nil {
			return err
		}
	}
	// The guest agent's files are written for a copy into a guest
	// (/usr/local/bin/guest-agent); the package installs it as
	// /usr/bin/fcmon-guest-agent.
	for _, f := range [][2]string{
		{"systemd/guest-agent.service", "fcmon-guest-agent.service"},
		{"openrc/guest-agent", "fcmon-guest-agent.openrc"},
	} {
		b, err := os.ReadFile(filepath.Join(deploy, f[0]))
		if err != nil {
			return err
		}
		b, err = forPackage(b)
		if err != nil {
			return fmt.Errorf("%s: %w", f[0], err)
		}
		if err := os.WriteFile(filepath.Join(stage, f[1]), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// forPackage rewrites a guest agent service file for the package: its
// header comment (how to copy it in by hand) becomes the package's, and
// the program and settings paths become the packaged ones.
func forPackage(b []byte) ([]byte, error) {
	lines := strings.SplitAfter(string(b), "\n")
	start := 0
	if strings.HasPrefix(lines[0], "#!") {
		start = 1
	}
	end := start
	for end < len(lines) && strings.HasPrefix(lines[end], "#") {
		end++
	}
	header := "# fcmon guest agent: serves this VM's metrics on port 8080.\n" +
		"# Installed by the fcmon-guest-agent package, which never starts it by itself.\n"
	s := strings.Join(lines[:start], "") + header + strings.Join(lines[end:], "")
	if !strings.Contains(s, "/usr/local/bin/guest-agent") {
		return nil, errors.New("names no /usr/local/bin/guest-agent to rewrite")
	}
	s = strings.ReplaceAll(s, "/usr/local/bin/guest-agent", "/usr/bin/fcmon-guest-agent")
	s = strings.ReplaceAll(s, "/etc/default/guest-agent", "/etc/default/fcmon-guest-agent")
	return []byte(s), nil
}

// scripts writes p's maintainer scripts. They make the fcmon user and
// tell systemd of the unit; an upgrade restarts the service only if it
// runs; removing the package stops it. None enables or starts a service.
// The first argument is deb's (configure, remove, purge, upgrade) or
// rpm's (the count of versions left: 0 on removal).
func scripts(stage string, p pkg) error {
	user := ""
	if p.user {
		user = `if ! getent group fcmon >/dev/null; then
	groupadd --system fcmon
fi
if ! getent passwd fcmon >/dev/null; then
	useradd --system --gid fcmon --home-dir /nonexistent --no-create-home \
		--shell /usr/sbin/nologin --comment "fcmon services" fcmon
fi
# The settings may hold a token path: readable by root and the service only.
chgrp fcmon /etc/default/` + p.name + ` /etc/fcmon 2>/dev/null || true
`
	}
	systemd := `[ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1`
	files := map[string]string{
		".postinst": `#!/bin/sh
# ` + p.name + `: after installing or upgrading. Never enables or starts the service.
set -e
` + user + `if ` + systemd + `; then
	systemctl daemon-reload || true
	# An upgrade restarts the service only if the operator runs it.
	systemctl try-restart ` + p.name + `.service || true
fi
exit 0
`,
		".prerm": `#!/bin/sh
# ` + p.name + `: before removing. Stops the service on removal, not on upgrade.
set -e
case "$1" in
remove | purge | 0)
	if ` + systemd + `; then
		systemctl stop ` + p.name + `.service || true
	fi
	;;
esac
exit 0
`,
		".postrm": `#!/bin/sh
# ` + p.name + `: after removing. The fcmon user and the state stay.
set -e
if ` + systemd + `; then
	systemctl daemon-reload || true
fi
exit 0
`,
	}
	for ext, body := range files {
		if err := os.WriteFile(filepath.Join(stage, p.name+ext), []byte(body), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// build makes one package from config in format, into out; it returns
// the file's name.
func build(config, format string, vars map[string]string, out string) (string, error) {
	// The variables are filled in the whole text, before nfpm reads it
	// (nfpm expands them in only some fields); an unknown one is an error.
	text, err := os.ReadFile(config)
	if err != nil {
		return "", err
	}
	var unknown []string
	expanded := os.Expand(string(text), func(k string) string {
		v, ok := vars[k]
		if !ok {
			unknown = append(unknown, k)
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("%s: unknown variables %v", config, unknown)
	}
	c, err := nfpm.ParseWithEnvMapping(strings.NewReader(expanded), func(k string) string { return "" })
	if err != nil {
		return "", fmt.Errorf("%s: %w", config, err)
	}
	info, err := c.Get(format)
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	name := packager.ConventionalFileName(info)
	var buf bytes.Buffer
	info.Target = filepath.Join(out, name)
	if err := packager.Package(info, &buf); err != nil {
		return "", err
	}
	return name, os.WriteFile(info.Target, buf.Bytes(), 0o644)
}

// checksums writes out/SHA256SUMS for the files made, as sha256sum -c reads it.
func checksums(out string, made []string) error {
	slices.Sort(made)
	var sums strings.Builder
	for _, name := range made {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(h[:]), name)
		fmt.Printf("dist/%s (%d bytes)\n", name, len(b))
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(sums.String()), 0o644)
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, b, mode)
}
