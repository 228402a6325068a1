#!/bin/sh
# capture.sh DIR: copy the files internal/procfs reads from the running
# kernel into DIR/proc and DIR/sys, so a new kernel becomes a fixture tree.
# /sys/block entries and /proc/<pid> directories become empty directories
# holding a .keep file (git does not track empty directories).
set -eu
dir=${1:?usage: capture.sh DIR}
mkdir -p "$dir/proc/net" "$dir/proc/sys/kernel/random" "$dir/sys/block" "$dir/sys/devices/system/cpu"
for f in stat meminfo uptime loadavg vmstat net/dev diskstats mounts cmdline \
	sys/kernel/random/boot_id sys/kernel/hostname sys/kernel/osrelease \
	sys/kernel/domainname sys/kernel/version sys/kernel/arch; do
	cat "/proc/$f" >"$dir/proc/$f" 2>/dev/null || rm -f "$dir/proc/$f" # arch: Linux 6.1 and later
done
if [ -d /proc/pressure ]; then
	mkdir -p "$dir/proc/pressure"
	for f in /proc/pressure/*; do
		cat "$f" >"$dir/proc/pressure/${f##*/}" 2>/dev/null || rm -f "$dir/proc/pressure/${f##*/}"
	done
fi
[ -e /sys/devices/system/cpu/online ] && cat /sys/devices/system/cpu/online >"$dir/sys/devices/system/cpu/online"
for b in /sys/block/*; do
	mkdir -p "$dir/sys/block/${b##*/}" && : >"$dir/sys/block/${b##*/}/.keep"
done
for p in /proc/[0-9]*; do
	mkdir -p "$dir/proc/${p##*/}" && : >"$dir/proc/${p##*/}/.keep"
done
uname -srm >"$dir/UNAME"
