// What a VM's status and sources mean to a person: the words of the list's
// status column and of the charts' source badges.

const SOURCE = {
  guest: 'inside the guest',
  vcpu: 'vCPU threads',
  balloon: 'balloon',
  host: 'host fallback',
  firecracker: 'Firecracker',
  tap: 'tap',
  cgroup: "the VMM's cgroup",
};

/** sourceLabel names where a chart's figures come from. */
export const sourceLabel = (source) => SOURCE[source] || 'no data';

/**
 * status summarizes a VM from its newest sample (or the VM view of
 * GET /v1/vms, which has the same source, stale and guest_agent fields):
 * { kind: "guest"|"host"|"offline", label, reason }.
 */
export function status(vm, sample) {
  const s = sample || vm || {};
  const source = s.source || 'none';
  // vcpu: CPU from the vCPU threads (memory then from the balloon or the
  // VMM): the host's view of the guest, a fallback like the VMM's.
  const kind = source === 'guest' ? 'guest' : source === 'host' || source === 'vcpu' ? 'host' : 'offline';
  const label = { guest: 'guest agent', host: 'host fallback', offline: 'offline' }[kind];
  return { kind, label, reason: reason(vm, s, kind) };
}

function reason(vm, s, kind) {
  const parts = [];
  const agent = s.guest_agent || {};
  if (kind !== 'guest') {
    if (vm && !vm.guest_ip && !vm.host_id) parts.push('no guest IP set');
    else if (agent.last_error) parts.push(agent.last_error);
    else if (!agent.reachable) parts.push('guest agent not answering');
  }
  if (kind === 'offline' && vm && !vm.host_agent_url && !vm.host_id) parts.push('no host agent');
  if (vm && vm.gone_ms) parts.push('gone: its host agent no longer reports it');
  if (s.stale) parts.push('stale');
  return parts.join(' · ');
}
