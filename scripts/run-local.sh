#!/usr/bin/env bash
# `make run`: the whole system on this machine — a manager (SQLite under ./data)
# collecting one host agent, and two QEMU guests (TCG), each behind a Firecracker
# stand-in, which the host agent discovers and reads over vsock; one runs the
# integration guide's stress loop. Everything listens on 127.0.0.1; the guests
# reach nothing. Ctrl-C stops everything it started, QEMU included.
#
# First run on a fresh Debian (as root): installs qemu-system-x86, socat,
# xz-utils and gcc and caches a Debian kernel, its modules and busybox in
# ~/.cache/fcmon/vm (scripts/vm-assets.sh, about 70 MB). Later runs reuse all of it.
# Settings: MANAGER_ADDR (127.0.0.1:8080), HOST_AGENT_ADDR (127.0.0.1:9091).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

for p in manager host-agent guest-agent; do
	[ -x "bin/$p" ] || { echo "run: bin/$p is missing: build with make (make run does)" >&2; exit 1; }
done

echo "run: checking QEMU and the guest kernel (scripts/vm-assets.sh)"
scripts/vm-assets.sh

echo "run: building the demo launcher (test/demo)"
launcher_dir=$(mktemp -d)
trap 'rm -rf "$launcher_dir"' EXIT
go build -o "$launcher_dir/fcmon-demo" ./test/demo

# Not exec: the trap removes the launcher once it has stopped everything.
status=0
"$launcher_dir/fcmon-demo" --bin bin --data-dir data "$@" || status=$?
exit "$status"
