#!/usr/bin/env bash
# Installs what `make test` needs on Debian, as root, and nothing when it is
# all there already. Safe to run again and again.
set -euo pipefail

# command:package pairs; a package is installed when its command is missing.
needs=(
	"qemu-system-x86_64:qemu-system-x86"
	"cpio:cpio"
	"xz:xz-utils"
	"zstd:zstd"
	"socat:socat"
)
# busybox-static has no command of its own name: check for its file.
missing=()
for pair in "${needs[@]}"; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "install-deps: Go 1.26 or newer is required (https://go.dev/doc/install); it is not on PATH" >&2
	exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing ${missing[*]}; run as root or install them with apt-get" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
