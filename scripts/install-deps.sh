#!/usr/bin/env bash
# Installs what `make test` needs on Debian, as root, and nothing when it is
# all there already. Safe to run again and again. The QEMU guest tests'
# tools and assets come from scripts/vm-assets.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # scripts/, for apt-get.sh

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	echo "install-deps: Go 1.26 or newer is required (https://go.dev/doc/install); it is not on PATH" >&2
	exit 1
fi

# command:package pairs; a package is installed when its command is missing.
needs=(
	"systemd-analyze:systemd" # checks deploy/systemd/guest-agent.service
	"debootstrap:debootstrap" # the Debian root test/dist installs the .deb packages into
	"rpm:rpm"                 # test/dist reads the .rpm packages with it
	"tmux:tmux"               # test/fcmonctl drives fcmonctl top in a terminal
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
	"$here/apt-get.sh" update -qq
	"$here/apt-get.sh" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Prometheus and promtool (Debian's prometheus package, 2.42 on Debian 12) for
# the alert-rule tests and the tests against a real Prometheus server. The
# package is unpacked into the cache rather than installed, so no service
# starts and nothing listens: the tests start their own server on loopback.
prom_dir="${FCMON_CACHE:-$HOME/.cache/fcmon}/prometheus"
if ! command -v promtool >/dev/null 2>&1 && [ ! -x "$prom_dir/usr/bin/promtool" ]; then
	echo "install-deps: unpacking Debian's prometheus package into $prom_dir"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && "$here/apt-get.sh" download -qq prometheus >/dev/null 2>&1) || {
		"$here/apt-get.sh" update -qq
		(cd "$tmp" && "$here/apt-get.sh" download -qq prometheus >/dev/null)
	}
	mkdir -p "$prom_dir"
	dpkg -x "$tmp"/prometheus_*.deb "$prom_dir"
fi
