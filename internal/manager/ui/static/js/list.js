// The VM list: every VM with its status and current figures, live over
// the all-VM WebSocket, and the form that registers a VM.

import { call, stream, vmPath } from './api.js';
import { h, setText } from './dom.js';
import { NONE, kib, percent, rate } from './format.js';
import { status } from './status.js';
import { registerForm } from './register.js';

// How often the list itself is fetched again, for VMs registered or
// removed elsewhere and for status when no sample flows.
const RELOAD_MS = 10000;

/** showList renders the list into main; it returns { close }. */
export async function showList(main, setConnection) {
  const rows = new Map(); // vm id → row
  const tbody = h('tbody');
  const count = h('span', { class: 'count' });
  const empty = h('p', { class: 'empty', hidden: true },
    'No VMs registered yet. Register one below, or with POST /v1/vms.');
  let reloading = null;

  const reload = () => (reloading ??= load().finally(() => { reloading = null; }));
  const load = async () => {
    const vms = await call('GET', '/v1/vms');
    const seen = new Set();
    for (const vm of vms) {
      seen.add(vm.id);
      let row = rows.get(vm.id);
      if (!row) {
        row = makeRow(vm);
        rows.set(vm.id, row);
        latest(vm.id).then((s) => s && update(rows.get(vm.id), s));
      }
      row.vm = vm;
      update(row, row.sample);
    }
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        rows.delete(id);
      }
    }
    tbody.replaceChildren(...[...rows.values()]
      .sort((a, b) => a.vm.name.localeCompare(b.vm.name) || a.vm.id.localeCompare(b.vm.id))
      .map((r) => r.tr));
    setText(count, `${rows.size} VM${rows.size === 1 ? '' : 's'}`);
    empty.hidden = rows.size > 0;
  };

  main.append(
    h('div', { class: 'page-head' }, h('h1', { text: 'Virtual machines' }), count),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'vms', 'aria-labelledby': 'vms-caption' },
        h('caption', { id: 'vms-caption', class: 'visually-hidden', text: 'Virtual machines' }),
        h('thead', {}, h('tr', {},
          ...['Name', 'ID', 'Status', 'CPU', 'Memory', 'Network rx / tx', 'Disk read / write']
            .map((t) => h('th', { scope: 'col', text: t })))),
        tbody)),
    empty,
    registerForm(() => reload()),
  );
  await load();

  const live = stream('/v1/metrics/ws', (sample) => {
    const row = rows.get(sample.vm_id);
    if (row) update(row, sample);
    else reload().catch(() => {});
  }, setConnection);
  const timer = setInterval(() => reload().catch(() => {}), RELOAD_MS);
  return { close() { live.close(); clearInterval(timer); } };
}

async function latest(id) {
  try {
    return await call('GET', `${vmPath(id)}/metrics`);
  } catch {
    return null;
  }
}

function makeRow(vm) {
  const c = {
    name: h('a', { href: `#/vms/${encodeURIComponent(vm.id)}` }),
    id: h('code', { class: 'id' }),
    pill: h('span', { class: 'pill' }),
    reason: h('span', { class: 'reason' }),
    cpu: h('td', { class: 'num' }),
    mem: h('td', { class: 'num' }),
    net: h('td', { class: 'num' }),
    disk: h('td', { class: 'num' }),
  };
  const tr = h('tr', { dataset: { vmId: vm.id } },
    h('th', { scope: 'row' }, c.name), h('td', {}, c.id),
    h('td', { class: 'status' }, c.pill, c.reason), c.cpu, c.mem, c.net, c.disk);
  return { tr, c, vm, sample: null };
}

/** update shows the row's VM with its newest sample (or none yet). */
function update(row, sample) {
  if (!row) return;
  if (sample && (!row.sample || sample.timestamp_ms >= row.sample.timestamp_ms)) row.sample = sample;
  const { c, vm } = row;
  const s = row.sample;
  setText(c.name, vm.name);
  setText(c.id, vm.id);
  const st = status(vm, s && s.timestamp_ms >= (vm.last_sample_ms || 0) ? s : vm);
  setText(c.pill, st.label);
  c.pill.className = `pill pill-${st.kind}`;
  setText(c.reason, st.reason);
  c.reason.title = st.reason;
  setText(c.cpu, percent(s?.cpu_usage_percent));
  setText(c.mem, memory(s));
  setText(c.net, s?.network ? `${rate(s.network.rx_bytes_per_sec)} / ${rate(s.network.tx_bytes_per_sec)}` : NONE);
  setText(c.disk, s?.disk ? `${rate(s.disk.read_bytes_per_sec)} / ${rate(s.disk.write_bytes_per_sec)}` : NONE);
}

function memory(s) {
  if (!s) return NONE;
  if (typeof s.memory_usage_percent === 'number') return percent(s.memory_usage_percent);
  // The host fallback has the VMM's resident set but no guest total.
  return s.memory_used_kb ? `${kib(s.memory_used_kb)} RSS` : NONE;
}
