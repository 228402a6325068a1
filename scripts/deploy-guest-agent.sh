#!/usr/bin/env bash
# deploy-guest-agent.sh — install the fcmon guest agent into a running VM, set up its
# service (OpenRC or systemd, whichever the guest has; otherwise start it in the
# background) and register the guest's address with the manager.
#
# Usage: scripts/deploy-guest-agent.sh --method scp|base64|http [options] [VM_ID]
#        scripts/deploy-guest-agent.sh --interactive
#
# Install methods:
#   scp     copy the binary over SSH to --guest-ip; the install commands run over ssh
#   base64  paste the binary as base64 into the guest's terminal or serial console:
#           typed into --console-socket (a Unix socket such as QEMU's or Firecracker's
#           serial console, through socat, one acknowledged block at a time), or printed
#           to stdout for pasting by hand (the default without --console-socket)
#   http    serve the binary from this host (python3 or busybox httpd) while the guest
#           downloads it with wget or curl; the guest commands run through
#           --console-socket, over ssh (--ssh), or are printed for pasting
#
# Options:
#   --binary PATH          agent binary (default: bin/guest-agent of this repository)
#   --vm-id ID             the VM's id in the manager (or the positional VM_ID)
#   --guest-ip IP          the guest's address: the ssh target and the address registered
#                          (default with --console-socket: asked from the guest)
#   --guest-port PORT      the agent's port to register (default 8080)
#   --manager URL          manager base URL, e.g. http://127.0.0.1:8080; with a VM id the
#                          guest address is registered there (POST /v1/vms/ID/guest-ip)
#   --token TOKEN          manager API token (also FCMON_API_TOKEN); --token-file FILE
#   --ssh-user USER        default root;  --ssh-opt OPT  extra ssh/scp option (repeatable)
#   --ssh                  (http) run the guest commands over ssh
#   --console-socket PATH  run the guest commands by typing them into this console
#   --print                print the guest commands instead of running them
#   --http-bind ADDR       (http) host server address (default 0.0.0.0)
#   --http-port PORT       (http) host server port (default 8000)
#   --http-url URL         (http) URL the guest downloads from
#                          (default http://<the guest's default gateway>:PORT/guest-agent)
#   --http-wait SECONDS    (http with --print) how long to serve (default: until Enter)
#   --agent-args ARGS      agent flags when started without a service manager
#   --no-service           install the binary only
#   --timeout SECONDS      bound on each console or ssh step (default 300)
#   --interactive          ask for the settings not given as flags
#   -h, --help
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
method="" binary="$root/bin/guest-agent" vm_id="" guest_ip="" guest_port=8080
manager="" token="${FCMON_API_TOKEN:-}" ssh_user=root ssh_opts=() use_ssh=0
console_sock="" print_only=0 http_bind=0.0.0.0 http_port=8000 http_url="" http_wait=""
agent_args="" no_service=0 step_timeout=300 interactive=0

b64_dir="" http_dir="" server_pid=""
cleanup() {
	[ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
	rm -rf "$b64_dir" "$http_dir"
}
trap cleanup EXIT
die() { echo "deploy-guest-agent: $*" >&2; exit 1; }
say() { echo "deploy-guest-agent: $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case "$1" in
	--method) method=${2:?--method needs a value}; shift ;;
	--binary) binary=${2:?}; shift ;;
	--vm-id) vm_id=${2:?}; shift ;;
	--guest-ip) guest_ip=${2:?}; shift ;;
	--guest-port) guest_port=${2:?}; shift ;;
	--manager) manager=${2:?}; shift ;;
	--token) token=${2:?}; shift ;;
	--token-file) token=$(tr -d '\r\n' <"${2:?}") || die "cannot read token file $2"; shift ;;
	--ssh-user) ssh_user=${2:?}; shift ;;
	--ssh-opt) ssh_opts+=("${2:?}"); shift ;;
	--ssh) use_ssh=1 ;;
	--console-socket) console_sock=${2:?}; shift ;;
	--print) print_only=1 ;;
	--http-bind) http_bind=${2:?}; shift ;;
	--http-port) http_port=${2:?}; shift ;;
	--http-url) http_url=${2:?}; shift ;;
	--http-wait) http_wait=${2:?}; shift ;;
	--agent-args) agent_args=${2?}; shift ;;
	--no-service) no_service=1 ;;
	--timeout) step_timeout=${2:?}; shift ;;
	--interactive) interactive=1 ;;
	-h | --help) usage; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) [ -z "$vm_id" ] || die "more than one VM id: $vm_id and $1"; vm_id=$1 ;;
	esac
	shift
done

# ask VAR PROMPT: read a value for VAR from stdin unless it is already set.
ask() {
	local var=$1 prompt=$2 answer
	[ -n "${!var}" ] && return 0
	printf '%s: ' "$prompt" >&2
	IFS= read -r answer || answer=""
	printf -v "$var" '%s' "$answer"
}

if [ -z "$method" ] && [ -t 0 ]; then interactive=1; fi
if [ "$interactive" = 1 ]; then
	ask method "install method (scp, base64 or http)"
	ask vm_id "VM id in the manager (empty: do not register)"
	if [ -n "$vm_id" ]; then
		ask manager "manager URL (e.g. http://127.0.0.1:8080)"
		ask token "manager API token (empty: none)"
	fi
	if [ "$method" = scp ] || [ "$use_ssh" = 1 ]; then ask guest_ip "guest IP address"; fi
	if [ "$method" != scp ] && [ -z "$console_sock" ] && [ "$use_ssh" = 0 ] && [ "$print_only" = 0 ]; then
		ask console_sock "console Unix socket (empty: print the commands to paste)"
	fi
	if [ -n "$vm_id" ] && [ -z "$console_sock" ]; then ask guest_ip "guest IP address to register"; fi
fi

case "$method" in
scp | base64 | http) ;;
"") die "--method is required (scp, base64 or http), or run with --interactive" ;;
*) die "method \"$method\" is not one of scp, base64, http" ;;
esac
[ -f "$binary" ] || die "agent binary $binary not found (build it with make guest-agent, or pass --binary)"
[ -z "$vm_id" ] || [ -n "$manager" ] || [ "$print_only" = 1 ] ||
	die "VM id $vm_id given without --manager URL to register it with"
if [ "$method" = scp ] || [ "$use_ssh" = 1 ]; then
	[ -n "$guest_ip" ] || die "--method $method over ssh needs --guest-ip"
fi
# Where the guest commands go: console, ssh or stdout.
channel=print
if [ "$method" = scp ] || [ "$use_ssh" = 1 ]; then
	channel=ssh
elif [ -n "$console_sock" ] && [ "$print_only" = 0 ]; then
	channel=console
	command -v socat >/dev/null || die "--console-socket needs socat (apt-get install socat)"
	[ -S "$console_sock" ] || die "console socket $console_sock does not exist"
fi

sha=$(sha256sum "$binary" | cut -d' ' -f1)
# An unlikely heredoc delimiter, so no line of a service file or of base64 can end it.
eof="GUEST_AGENT_EOF_$sha"
eof=${eof:0:40}
blocks=() # guest shell snippets, each complete on its own

add() { blocks+=("$1"); }

# Guest: put the downloaded /tmp/guest-agent.new in place once its checksum matches.
add_install_binary() {
	add "[ \"\$(sha256sum /tmp/guest-agent.new | cut -d' ' -f1)\" = $sha ] || { echo 'guest-agent: checksum mismatch' >&2; false; } && mkdir -p /usr/local/bin && chmod 0755 /tmp/guest-agent.new && mv -f /tmp/guest-agent.new /usr/local/bin/guest-agent"
}

add_base64_blocks() {
	local lines=600
	b64_dir=$(mktemp -d)
	gzip -9c "$binary" | base64 -w 76 >"$b64_dir/b64"
	split -l "$lines" "$b64_dir/b64" "$b64_dir/part."
	add "rm -f /tmp/guest-agent.b64"
	for part in "$b64_dir"/part.*; do
		add "cat >>/tmp/guest-agent.b64 <<'$eof'
$(cat "$part")
$eof"
	done
	add "base64 -d /tmp/guest-agent.b64 | gunzip -c >/tmp/guest-agent.new && rm -f /tmp/guest-agent.b64"
	add_install_binary
}

add_http_blocks() {
	local url=$http_url
	if [ -z "$url" ]; then
		# Like the manual install: the host is the guest's default gateway.
		url="http://\$(ip route | awk '/^default/ {print \$3; exit}'):$http_port/guest-agent"
	fi
	add "rm -f /tmp/guest-agent.new; wget -q -O /tmp/guest-agent.new \"$url\" || curl -fsS -o /tmp/guest-agent.new \"$url\""
	add_install_binary
}

# Guest: install the service for whichever init system runs (of those whose files this
# repository ships), or else start the agent directly in the background.
add_service_block() {
	local openrc="$root/deploy/openrc/guest-agent" unit="$root/deploy/systemd/guest-agent.service"
	local snippet=""
	if [ -f "$openrc" ]; then
		snippet+="if command -v openrc-run >/dev/null 2>&1 && command -v rc-service >/dev/null 2>&1; then
cat >/etc/init.d/guest-agent <<'$eof'
$(cat "$openrc")
$eof
chmod 0755 /etc/init.d/guest-agent && rc-update add guest-agent default && rc-service guest-agent restart
el"
	else
		say "warning: $openrc not found: an OpenRC guest gets the agent started without a service"
	fi
	if [ -f "$unit" ]; then
		snippet+="if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
cat >/etc/systemd/system/guest-agent.service <<'$eof'
$(cat "$unit")
$eof
systemctl daemon-reload && systemctl enable guest-agent && systemctl restart guest-agent
el"
	else
		say "warning: $unit not found: a systemd guest gets the agent started without a service"
	fi
	add "${snippet}if true; then
echo 'guest-agent: no OpenRC or systemd; starting it in the background'
if [ -f /run/guest-agent.pid ] && old=\$(cat /run/guest-agent.pid) && kill \"\$old\" 2>/dev/null; then
	for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 \"\$old\" 2>/dev/null || break; sleep 1; done
fi
mkdir -p /var/log /run
detach=; command -v nohup >/dev/null 2>&1 && detach=nohup; command -v setsid >/dev/null 2>&1 && detach=setsid
\$detach /usr/local/bin/guest-agent $agent_args >/var/log/guest-agent.log 2>&1 </dev/null &
echo \$! >/run/guest-agent.pid
fi"
}

# Guest: report its IPv4 address (the first one that is not loopback) between markers.
guest_ip_block="printf '\\036GUEST_IP=%s\\036\\n' \"\$(ip -4 addr show | awk '/inet / && \$2 !~ /^127\\./ {sub(/\\/.*/, \"\", \$2); print \$2; exit}')\""

# console_run: type every block into the console socket and wait for its acknowledgement.
console_run() {
	local i=0 n=${#blocks[@]} token output status
	coproc CONSOLE { socat - "UNIX-CONNECT:$console_sock"; }
	local in=${CONSOLE[1]} out=${CONSOLE[0]} pid=$CONSOLE_PID
	for block in "${blocks[@]}" "$guest_ip_block"; do
		i=$((i + 1))
		printf '%s\nprintf '"'"'\\036DEPLOY%s:%%d\\036\\n'"'"' $?\n' "$block" "$i" >&"$in"
		output="" status=""
		local deadline=$((SECONDS + step_timeout))
		while [ -z "$status" ]; do
			[ "$SECONDS" -lt "$deadline" ] || { kill "$pid" 2>/dev/null; die "no answer from the guest console to step $i of $((n + 1)) within ${step_timeout}s; output: $output"; }
			IFS= read -r -d $'\036' -t $((deadline - SECONDS + 1)) -u "$out" token || continue
			case "$token" in
			DEPLOY$i:*) status=${token#DEPLOY"$i":} ;;
			GUEST_IP=*) [ -n "$guest_ip" ] || guest_ip=${token#GUEST_IP=} ;;
			*) output+=$token ;;
			esac
		done
		[ "$status" = 0 ] || { kill "$pid" 2>/dev/null; die "step $i of $((n + 1)) failed in the guest (status $status): $output"; }
		if [ $((i % 10)) = 0 ]; then say "console: $i of $((n + 1)) steps done"; fi
	done
	exec {in}>&-
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

ssh_run() {
	local target="$ssh_user@$guest_ip"
	if [ "$method" = scp ]; then
		timeout "$step_timeout" scp "${ssh_opts[@]}" "$binary" "$target:/tmp/guest-agent.new"
	fi
	printf '%s\n' "set -e" "${blocks[@]}" | timeout "$step_timeout" ssh "${ssh_opts[@]}" "$target" sh -s
}

print_blocks() {
	say "paste the following into the guest's shell:"
	printf '%s\n\n' "${blocks[@]}"
}

# serve_http: serve the binary on http_bind:http_port until the script exits.
serve_http() {
	http_dir=$(mktemp -d)
	cp "$binary" "$http_dir/guest-agent"
	if command -v python3 >/dev/null; then
		python3 -m http.server --bind "$http_bind" --directory "$http_dir" "$http_port" >/dev/null 2>&1 &
	elif command -v busybox >/dev/null; then
		busybox httpd -f -p "$http_bind:$http_port" -h "$http_dir" &
	else
		die "--method http needs python3 or busybox on this host to serve the binary"
	fi
	server_pid=$!
	local probe=$http_bind
	[ "$probe" != 0.0.0.0 ] || probe=127.0.0.1
	for _ in $(seq 50); do
		curl -fsS -o /dev/null "http://$probe:$http_port/guest-agent" 2>/dev/null && return 0
		sleep 0.1
	done
	die "the HTTP server on $http_bind:$http_port did not start"
}

register() {
	[ -n "$vm_id" ] && [ -n "$manager" ] || return 0
	[ -n "$guest_ip" ] || die "cannot register VM $vm_id: guest IP unknown (pass --guest-ip)"
	local auth=()
	[ -z "$token" ] || auth=(-H "Authorization: Bearer $token")
	say "registering $guest_ip:$guest_port for VM $vm_id with $manager"
	curl -fsS --max-time 30 -X POST "${manager%/}/v1/vms/$vm_id/guest-ip" \
		-H 'Content-Type: application/json' "${auth[@]}" \
		-d "{\"guest_ip\":\"$guest_ip\",\"guest_port\":$guest_port}" >/dev/null ||
		die "registering the guest IP with $manager failed"
}

main() {
	case "$method" in
	base64) add_base64_blocks ;;
	http) add_http_blocks; serve_http ;;
	scp) add_install_binary ;;
	esac
	[ "$no_service" = 1 ] || add_service_block
	case "$channel" in
	console) console_run ;;
	ssh) ssh_run ;;
	print)
		print_blocks
		if [ "$method" = http ]; then
			if [ -n "$http_wait" ]; then sleep "$http_wait"; else
				say "serving the binary; press Enter once the guest has downloaded it"
				read -r _ </dev/tty || true
			fi
		fi
		;;
	esac
	say "guest agent installed (sha256 $sha)"
	register
}

main
