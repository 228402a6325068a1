#!/usr/bin/env bash
# Installs what `make test` needs on Debian, as root, and nothing when it is
# all there already. Safe to run again and again. The QEMU guest tests'
# tools and assets come from scripts/vm-assets.sh.
set -euo pipefail

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "install-deps: Go 1.26 or newer is required (https://go.dev/doc/install); it is not on PATH" >&2
	exit 1
fi

# command:package pairs; a package is installed when its command is missing.
needs=(
	"systemd-analyze:systemd" # checks deploy/systemd/guest-agent.service
)
missing=()
for pair in "${needs[@]}"; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
# The store tests start throwaway PostgreSQL 15 clusters (scripts/pg-test-cluster.sh);
# its server binaries are not on PATH.
[ -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ] || missing+=(postgresql-15)

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
