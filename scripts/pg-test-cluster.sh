#!/usr/bin/env bash
# pg-test-cluster.sh start|stop DIR — a throwaway PostgreSQL cluster for tests.
#
# start: creates DIR (it must be absent or empty), initialises a cluster in
#   DIR/data, starts it listening only on a Unix socket in DIR (no TCP, so
#   clusters never collide), creates the database "fcmon" and prints its URL:
#     postgres:///fcmon?host=DIR&user=postgres
#   Durability is off (fsync, full_page_writes): the data is disposable.
# stop: shuts the cluster down and removes DIR.
#
# With PG_TEST_OWNER_PID set, start also leaves a watcher that does what stop
# does once that process has gone, so a test binary that crashes or is killed
# does not leave a server behind.
#
# Server binaries come from $PG_BIN (default /usr/lib/postgresql/15/bin); when
# they are missing and we are root, postgresql-15 is installed with apt-get.
# As root the server runs as the "postgres" user (initdb refuses root).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # scripts/, for apt-get.sh

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
MARKER=.fcmon-pg-test-cluster
SELF=$(readlink -f "$0")

die() { echo "pg-test-cluster: $*" >&2; exit 1; }

usage() { die "usage: $0 start|stop DIR"; }

# as_pg runs a command as the cluster's owner.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

ensure_binaries() {
	[ -x "$PG_BIN/initdb" ] && return
	[ "$(id -u)" = 0 ] || die "no PostgreSQL server in $PG_BIN; install postgresql-15 (apt-get install postgresql-15) or set PG_BIN"
	echo "pg-test-cluster: installing postgresql-15" >&2
	export DEBIAN_FRONTEND=noninteractive
	"$here/apt-get.sh" update -qq >&2
	"$here/apt-get.sh" install -y -qq --no-install-recommends postgresql-15 >/dev/null
	[ -x "$PG_BIN/initdb" ] || die "postgresql-15 installed but $PG_BIN/initdb is missing; set PG_BIN"
}

start() {
	local dir=$1
	ensure_binaries
	mkdir -p "$dir"
	[ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
	dir=$(cd "$dir" && pwd)
	touch "$dir/$MARKER"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || die "user postgres does not exist (it comes with postgresql-common)"
		chown postgres: "$dir"
		chmod 755 "$dir"
		runuser -u postgres -- test -x "$dir" ||
			die "user postgres cannot reach $dir: every directory above it must be searchable by others (mode 755)"
	fi
	as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
		--no-sync --no-instructions >"$dir/initdb.log" 2>&1 ||
		die "initdb failed: $(tail -n 3 "$dir/initdb.log" | tr '\n' ' ')"
	as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
		start >/dev/null ||
		die "server did not start: $(tail -n 3 "$dir/server.log" | tr '\n' ' ')"
	as_pg "$PG_BIN/psql" -h "$dir" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE fcmon" >/dev/null ||
		die "creating database fcmon failed"
	if [ -n "${PG_TEST_OWNER_PID:-}" ]; then
		watch_owner "$dir" "$PG_TEST_OWNER_PID"
	fi
	echo "postgres:///fcmon?host=$dir&user=postgres"
}

# watch_owner stops the cluster in dir once process pid has exited; it ends
# by itself when the cluster is stopped first. Its output goes nowhere, so
# whoever reads start's output is not kept waiting for it.
watch_owner() {
	local dir=$1 pid=$2
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null && [ -e "$2/'"$MARKER"'" ]; do sleep 1; done
		[ -e "$2/'"$MARKER"'" ] && "$0" stop "$2"
	' "$SELF" "$pid" "$dir" </dev/null >/dev/null 2>&1 &
}

stop() {
	local dir=$1
	[ -d "$dir" ] || return 0
	# Refuse to delete anything start did not create.
	[ -e "$dir/$MARKER" ] || die "$dir was not made by $0 start; not removing it"
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

[ $# -eq 2 ] || usage
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
