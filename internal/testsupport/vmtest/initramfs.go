package vmtest

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
)

// Paths inside the guest.
const (
	// GuestAgentPath is where the initramfs holds the agent binary.
	GuestAgentPath = "/usr/local/bin/guest-agent"
	// GuestAgentLog receives the agent's stdout and stderr when /init starts it.
	GuestAgentLog = "/var/log/guest-agent.log"
	// GuestIP is the guest's static address on QEMU's user-mode network.
	GuestIP = "10.0.2.15"
	// HostIP is how the guest reaches the host's loopback interface (QEMU's gateway).
	// In a restricted guest (Config.Restrict) it only answers ping.
	HostIP = "10.0.2.2"
	// ServiceIP is where a guest reaches Config.GuestForwards: QEMU refuses guest
	// forwards on HostIP itself.
	ServiceIP = "10.0.2.100"

	guestModuleDir = "/lib/vmtest/modules"
)

// initScript is the guest's /init. It mounts the kernel filesystems, loads the modules,
// configures eth0 statically (no DHCP wait), optionally starts the agent and then serves
// the console: the tty is put in raw mode without echo, and a non-interactive shell reads
// commands through a pipe, so what the host reads back is only the commands' output.
// dd, not cat, feeds the pipe: busybox cat copies with sendfile, which holds a tty's
// input back until a whole chunk has arrived.
var initScript = template.Must(template.New("init").Parse(`#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /root /sbin /usr/bin /usr/sbin /var/log
/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
dmesg -n 1
while read -r m; do
	insmod {{.ModuleDir}}/"$m" || echo "vmtest: insmod $m failed" >/dev/ttyS0
done <{{.ModuleDir}}/order
hostname vmtest
ip link set lo up
ip link set eth0 up && ip addr add {{.GuestIP}}/24 dev eth0 && ip route add default via {{.HostIP}}
{{- if .RootImage}}
mkdir -p /newroot
if mount -t ext4 /dev/vda /newroot; then
	for d in dev proc sys run; do
		[ -d /newroot/$d ] && mount --move /$d /newroot/$d
	done
	exec switch_root /newroot /sbin/init
fi
echo "vmtest: the root image /dev/vda does not mount" >/dev/ttyS0
{{- end}}
{{- if .StartAgent}}
{{.Agent}}{{range .AgentArgs}} {{.}}{{end}} >{{.AgentLog}} 2>&1 &
{{- end}}
` + ConsoleScript))

// ConsoleScript serves the harness's console on ttyS0: raw mode without
// echo, the ready mark, then every line read runs in a shell whose output
// goes back. /init ends with it; a root image booted with RootImage runs
// it from its own init (an inittab's respawn line, say).
const ConsoleScript = `stty -F /dev/ttyS0 raw -echo 115200
printf '\036VMTEST-READY\036\n' >/dev/ttyS0
while :; do
	dd if=/dev/ttyS0 bs=65536 2>/dev/null | sh >/dev/ttyS0 2>&1
done
`

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// buildInitramfs writes the guest's initramfs for cfg to dst.
func buildInitramfs(dst string, cfg Config, assets Assets) error {
	mods, err := assets.Modules()
	if err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("creating initramfs: %w", err)
	}
	defer f.Close()

	var script strings.Builder
	quoted := make([]string, len(cfg.AgentArgs))
	for i, a := range cfg.AgentArgs {
		quoted[i] = shellQuote(a)
	}
	err = initScript.Execute(&script, map[string]any{
		"ModuleDir":  guestModuleDir,
		"GuestIP":    GuestIP,
		"HostIP":     HostIP,
		"StartAgent": cfg.StartAgent && cfg.Agent != "",
		"Agent":      GuestAgentPath,
		"AgentArgs":  quoted,
		"AgentLog":   GuestAgentLog,
		"RootImage":  cfg.RootImage != "",
	})
	if err != nil {
		return fmt.Errorf("rendering /init: %w", err)
	}

	w := newCPIOWriter(f)
	w.charDev("/dev/console", 5, 1)
	w.copyFile("/bin/busybox", assets.Busybox())
	w.bytes("/init", 0o755, []byte(script.String()))
	var order strings.Builder
	for _, m := range mods {
		name := filepath.Base(m)
		w.copyFile(path.Join(guestModuleDir, name), m)
		order.WriteString(name + "\n")
	}
	w.bytes(path.Join(guestModuleDir, "order"), 0o644, []byte(order.String()))
	if cfg.Agent != "" {
		w.copyFile(GuestAgentPath, cfg.Agent)
	}
	guestPaths := make([]string, 0, len(cfg.Files))
	for g := range cfg.Files {
		guestPaths = append(guestPaths, g)
	}
	sort.Strings(guestPaths)
	for _, g := range guestPaths {
		if !path.IsAbs(g) {
			return fmt.Errorf("guest path %q of an extra file is not absolute", g)
		}
		w.copyFile(g, cfg.Files[g])
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing initramfs: %w", err)
	}
	return f.Close()
}
