#!/usr/bin/env bash
# apt-get, as fcmon's scripts call it: when another apt or dpkg (unattended
# upgrades, a second shell) holds its lock, wait for it — up to 10 minutes,
# saying so once — rather than fail halfway; when apt-get fails otherwise,
# say which command failed and the last lines apt printed, so `make` does
# not end in a bare "Error 1". Arguments are apt-get's.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive
waited=0
for attempt in $(seq 1 120); do
	out=$(apt-get -o DPkg::Lock::Timeout=5 "$@" 2>&1)
	status=$?
	if [ "$status" = 0 ]; then
		[ -n "$out" ] && printf '%s\n' "$out"
		exit 0
	fi
	if printf '%s' "$out" | grep -qE 'Could not get lock|Unable to lock|is held by process|Unable to acquire the dpkg frontend lock'; then
		if [ "$waited" = 0 ]; then
			echo "apt-get: another apt or dpkg holds its lock; waiting for it (up to 10 minutes)" >&2
			waited=1
		fi
		sleep 5
		continue
	fi
	echo "apt-get $* failed (exit $status):" >&2
	printf '%s\n' "$out" | grep -v '^\s*$' | tail -n 5 | sed 's/^/  /' >&2
	exit "$status"
done
echo "apt-get $*: apt was still busy after 10 minutes; run again once it is done" >&2
exit 1
