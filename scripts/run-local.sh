#!/usr/bin/env bash
# `make run`: the system on this machine, on embedded defaults — a manager
# (SQLite under ./data), a host agent, and a guest agent that registers
# itself with the manager, all on loopback. The guest agent reads this
# machine's /proc, standing in for a VM until the QEMU demo guests arrive.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v curl >/dev/null; then
	echo "run: installing curl"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
fi

manager_addr="${MANAGER_ADDR:-127.0.0.1:8080}"
host_agent_addr="${HOST_AGENT_ADDR:-127.0.0.1:9091}"
guest_addr="${GUEST_AGENT_ADDR:-127.0.0.1:8081}"
vm_id_file=data/demo-vm-id

mkdir -p data
[ -s "$vm_id_file" ] || cat /proc/sys/kernel/random/uuid >"$vm_id_file"
vm_id=$(cat "$vm_id_file")

pids=()
cleanup() {
	trap - INT TERM EXIT
	echo
	echo "run: stopping"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap 'cleanup; exit 0' INT TERM
trap cleanup EXIT

wait_http() { # url, what
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "run: $2 did not come up at $1; see data/*.log" >&2
	exit 1
}

echo "run: starting the manager on http://$manager_addr (database data/fcmon.db)"
bin/manager --listen "$manager_addr" --data-dir data \
	--guest-allow-cidrs 127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7 \
	2>data/manager.log &
pids+=($!)
wait_http "http://$manager_addr/healthz" manager

echo "run: starting the host agent on http://$host_agent_addr"
bin/host-agent --listen "$host_agent_addr" 2>data/host-agent.log &
pids+=($!)
wait_http "http://$host_agent_addr/health" "host agent"

echo "run: starting the guest agent on http://$guest_addr; it registers itself"
bin/guest-agent --listen "$guest_addr" --register-url "http://$manager_addr" --vm-id "$vm_id" \
	--advertise "$guest_addr" 2>data/guest-agent.log &
guest_pid=$!
pids+=($guest_pid)
wait_http "http://$guest_addr/health" "guest agent"

# The VM record: the guest agent's own process stands in for the VMM, so the
# host agent's fallback figures are about a real process. A record left by
# an earlier run names an old pid, so it is replaced.
echo "run: registering VM $vm_id with the manager"
register() {
	curl -sS -o data/register.json -w '%{http_code}' -X POST "http://$manager_addr/v1/vms" \
		-H 'Content-Type: application/json' \
		-d "{\"id\":\"$vm_id\",\"name\":\"this-machine\",\"host_agent_url\":\"http://$host_agent_addr\",\"vmm_pid\":$guest_pid}"
}
status=$(register)
if [ "$status" = 409 ]; then
	curl -fsS -X DELETE "http://$manager_addr/v1/vms/$vm_id" >/dev/null
	status=$(register)
fi
if [ "$status" != 201 ]; then
	echo "run: registering failed ($status): $(cat data/register.json)" >&2
	exit 1
fi

cat <<MSG

fcmon is running:
  UI and API     http://$manager_addr/
  latest sample  curl http://$manager_addr/v1/vms/$vm_id/metrics
  all VMs        curl http://$manager_addr/v1/vms
  Prometheus     curl http://$manager_addr/metrics
  logs           data/manager.log, data/host-agent.log, data/guest-agent.log
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}" || true
echo "run: a component exited; see its log in data/" >&2
exit 1
