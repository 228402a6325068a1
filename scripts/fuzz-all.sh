#!/usr/bin/env bash
# `make fuzz`: runs every fuzz target for a while (default 20s each). The seed
# corpora under testdata/fuzz also run as ordinary tests in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-20s}"
for pkg in $(go list ./...); do
	for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $f ($t)"
		go test -run '^$' -fuzz "^${f}\$" -fuzztime "$t" -fuzzminimizetime 2s "$pkg"
	done
done
