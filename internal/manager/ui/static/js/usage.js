// The usage page (#/usage): what each VM, or each value of a label, used
// and was allocated over a period (GET /v1/usage), in a table sorted by any
// column, with the API's own CSV to download. The period, the grouping, the
// filter and the sort live in the URL, so a shared link shows the same.

import { APIError, call, getToken, send } from './api.js';
import { h, rendered, setText } from './dom.js';
import { NONE, bytes, duration, time } from './format.js';
import { labelTerms } from './list.js';

export const PERIODS = [
  { key: '1h', label: 'Last hour', ms: 3600e3 },
  { key: '24h', label: 'Last 24 h', ms: 86400e3 },
  { key: '7d', label: 'Last 7 days', ms: 7 * 86400e3 },
  { key: '30d', label: 'Last 30 days', ms: 30 * 86400e3 },
];

// num formats a figure to one decimal: 1234.56 → "1,234.6".
const num = (v) => (typeof v === 'number' && Number.isFinite(v)
  ? v.toLocaleString('en', { maximumFractionDigits: 1, minimumFractionDigits: 1 }) : NONE);

// The figures' columns: key (the API's field), label, the cell's text.
const COLUMNS = [
  { key: 'vcpu_seconds_used', label: 'vCPU-s used', text: (r) => num(r.vcpu_seconds_used) },
  { key: 'vcpu_seconds_allocated', label: 'vCPU-s allocated', text: (r) => num(r.vcpu_seconds_allocated) },
  { key: 'memory_gib_seconds_used', label: 'GiB-s used', text: (r) => num(r.memory_gib_seconds_used) },
  { key: 'memory_gib_seconds_allocated', label: 'GiB-s allocated', text: (r) => num(r.memory_gib_seconds_allocated) },
  { key: 'network_bytes', label: 'Network', text: (r) => bytes(r.network_bytes) },
  { key: 'disk_bytes', label: 'Disk', text: (r) => bytes(r.disk_bytes) },
  { key: 'seconds', label: 'Covered', text: (r) => duration(r.seconds) },
];

/** parseUsage reads the page's view from the hash's query. */
export function parseUsage(query) {
  const q = new URLSearchParams(query);
  const since = Number(q.get('since')) || 0;
  const until = Number(q.get('until')) || 0;
  const period = PERIODS.find((p) => p.key === q.get('period')) ? q.get('period') : '24h';
  const groupBy = q.get('group_by') || 'vm';
  const sort = q.get('sort') || (groupBy === 'vm' ? 'name' : 'value');
  return { since, until, period: since && until ? 'custom' : period, groupBy, labels: q.getAll('label').filter(Boolean),
    sort, order: q.get('order') === 'asc' || (q.get('order') !== 'desc' && ['name', 'value'].includes(sort)) ? 'asc' : 'desc' };
}

/** usageHash is the page's URL for view. */
export function usageHash(v) {
  const q = new URLSearchParams();
  if (v.period === 'custom') {
    q.set('since', String(v.since));
    q.set('until', String(v.until));
  } else if (v.period !== '24h') q.set('period', v.period);
  if (v.groupBy && v.groupBy !== 'vm') q.set('group_by', v.groupBy);
  for (const term of v.labels) q.append('label', term);
  if (v.sort) q.set('sort', v.sort);
  if (v.order) q.set('order', v.order);
  const s = q.toString();
  return s ? `#/usage?${s}` : '#/usage';
}

/** apiQuery is the GET /v1/usage query of view, at now for a preset period. */
function apiQuery(v, now, format) {
  const q = new URLSearchParams();
  const p = PERIODS.find((x) => x.key === v.period);
  q.set('since', String(p ? now - p.ms : v.since));
  q.set('until', String(p ? now : v.until));
  q.set('group_by', v.groupBy);
  for (const term of v.labels) q.append('label', term);
  if (format) q.set('format', format);
  return q;
}

// datetime-local values in the browser's time zone, to the minute.
const toLocal = (ms) => {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
};
const fromLocal = (s) => (s ? new Date(s).getTime() : NaN);

/** showUsage renders the usage page into main; it returns { close }. */
export async function showUsage(main, setConnection, view) {
  setConnection('closed');
  const now = Date.now();
  const error = h('p', { class: 'form-error', role: 'alert' });
  const covers = h('p', { class: 'range-note', role: 'status' });

  // The form: period, grouping, filter.
  const radios = [...PERIODS, { key: 'custom', label: 'Custom' }].map((p) => h('label', { class: 'range' },
    h('input', { type: 'radio', name: 'period', value: p.key, checked: view.period === p.key }), h('span', { text: p.label })));
  const since = h('input', { id: 'usage-since', type: 'datetime-local', name: 'since',
    value: toLocal(view.since || now - 86400e3) });
  const until = h('input', { id: 'usage-until', type: 'datetime-local', name: 'until', value: toLocal(view.until || now) });
  const per = h('select', { id: 'usage-per', name: 'per' },
    h('option', { value: 'vm', text: 'VM', selected: view.groupBy === 'vm' }),
    h('option', { value: 'label', text: 'Label value', selected: view.groupBy !== 'vm' }));
  const key = h('input', { id: 'usage-key', type: 'text', name: 'key', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'tenant', value: view.groupBy.startsWith('label:') ? view.groupBy.slice(6) : '' });
  const filter = h('input', { id: 'usage-label', type: 'text', name: 'label', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'tenant=acme', value: view.labels.join(' ') });
  const custom = h('div', { class: 'row custom', hidden: view.period !== 'custom' },
    h('div', { class: 'field' }, h('label', { for: 'usage-since', text: 'From' }), since),
    h('div', { class: 'field' }, h('label', { for: 'usage-until', text: 'To' }), until));
  const keyField = h('div', { class: 'field', hidden: per.value === 'vm' }, h('label', { for: 'usage-key', text: 'Label' }), key);
  const form = h('form', { class: 'usage-form', 'aria-label': 'Usage period', novalidate: true },
    h('fieldset', { class: 'ranges' }, h('legend', { text: 'Period' }), ...radios), custom,
    h('div', { class: 'row' },
      h('div', { class: 'field' }, h('label', { for: 'usage-per', text: 'One row per' }), per), keyField,
      h('div', { class: 'field' }, h('label', { for: 'usage-label', text: 'Only VMs with labels' }), filter),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', text: 'Show' }))), error);
  form.addEventListener('change', (ev) => {
    if (ev.target.name === 'period') custom.hidden = ev.target.value !== 'custom';
    if (ev.target === per) keyField.hidden = per.value === 'vm';
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setText(error, '');
    const period = form.querySelector('input[name=period]:checked')?.value || '24h';
    const next = { ...view, period, labels: labelTerms(filter.value), groupBy: per.value === 'vm' ? 'vm' : `label:${key.value.trim()}` };
    if (next.groupBy !== view.groupBy) next.sort = next.order = '';
    if (period === 'custom') {
      next.since = fromLocal(since.value);
      next.until = fromLocal(until.value);
      if (!(next.since < next.until)) {
        setText(error, 'Give a start before the end.');
        return;
      }
    }
    if (per.value !== 'vm' && !key.value.trim()) {
      setText(error, 'Name the label to group by, such as tenant.');
      return;
    }
    location.hash = usageHash(next);
  });

  // The table.
  const first = view.groupBy === 'vm' ? { key: 'name', label: 'VM' } : { key: 'value', label: view.groupBy.slice(6) };
  const cols = [first, ...COLUMNS, { key: 'source', label: 'CPU from' }];
  const heads = cols.map((c) => {
    const on = view.sort === c.key;
    const dir = on && view.order === 'asc' ? 'desc' : on ? 'asc' : c === first || c.key === 'source' ? 'asc' : 'desc';
    return h('th', { scope: 'col', class: c === first || c.key === 'source' ? null : 'num',
      'aria-sort': on ? (view.order === 'asc' ? 'ascending' : 'descending') : null },
    h('a', { class: 'sort', href: usageHash({ ...view, sort: c.key, order: dir }), dataset: { dir: on ? view.order : '' },
      'aria-label': `${c.label}: sort ${dir === 'asc' ? 'ascending' : 'descending'}`, text: c.label }));
  });
  const body = h('tbody', {});
  const foot = h('tfoot', {});
  const table = h('table', { class: 'vms usage', 'aria-label': 'Usage' }, h('thead', {}, h('tr', {}, ...heads)), body, foot);
  const download = h('button', { type: 'button', class: 'download', text: 'Download CSV' });
  const empty = h('p', { class: 'empty', hidden: true });

  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/', text: 'Fleet' }), ' › Usage'),
    h('div', { class: 'page-head' }, h('h1', { text: 'Usage' })),
    h('p', { class: 'lede', text: 'vCPU-seconds and GiB-seconds used and allocated, network and disk bytes, from the 1-minute rollups: a gap adds nothing, a restore counts once.' }),
    h('section', { class: 'card' }, form),
    h('div', { class: 'usage-head' }, covers, download),
    h('div', { class: 'table-wrap' }, table), empty);

  const q = apiQuery(view, now);
  let answer;
  try {
    answer = await call('GET', `/v1/usage?${q}`);
  } catch (err) {
    if (err.status !== 400) throw err;
    setText(error, err.message); // the API's word on a bad period or label
    answer = { rows: [] };
  }
  const rows = sortRows(answer.rows || [], view);
  body.replaceChildren(...rows.map((r) => h('tr', {},
    h('th', { scope: 'row' }, r.vm_id ? h('a', { href: `#/vms/${encodeURIComponent(r.vm_id)}`, text: r.vm_name || r.vm_id })
      : r.missing ? h('em', { text: `without ${view.groupBy.slice(6)}` }) : r.value),
    ...COLUMNS.map((c) => h('td', { class: 'num', text: c.text(r) })),
    h('td', { text: r.source }))));
  if (rows.length > 1) {
    const total = {};
    for (const c of COLUMNS) total[c.key] = rows.reduce((s, r) => s + (r[c.key] || 0), 0);
    foot.replaceChildren(h('tr', {}, h('th', { scope: 'row', text: 'Total' }),
      ...COLUMNS.map((c) => h('td', { class: 'num', text: c.text(total) })), h('td', {})));
  }
  empty.hidden = rows.length > 0;
  setText(empty, 'No usage in this period: no VM you may see has rollups in it.');
  if (answer.since_ms) setText(covers, `${rows.length} ${rows.length === 1 ? 'row' : 'rows'} · whole minutes from ${time(answer.since_ms)} to ${time(answer.until_ms)}`);

  // The download is the API's CSV for the same query, byte for byte.
  const csv = apiQuery(view, now, 'csv');
  if (answer.since_ms) { // the minutes the table shows, even as time moves on
    csv.set('since', String(answer.since_ms));
    csv.set('until', String(answer.until_ms));
  }
  download.dataset.url = `/v1/usage?${csv}`;
  download.addEventListener('click', async () => {
    download.disabled = true;
    setText(error, '');
    try {
      const res = await send('GET', download.dataset.url, undefined, getToken());
      if (!res.ok) throw new APIError(res.status, (await res.json().catch(() => ({}))).error || res.statusText);
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: `fcmon-usage-${csv.get('since')}-${csv.get('until')}.csv`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60e3);
    } catch (err) {
      setText(error, `The CSV could not be downloaded: ${err.message}`);
    } finally {
      download.disabled = false;
    }
  });
  rendered();
  return { close() {} };
}

/** sortRows orders rows by view's column; ties by name or value. */
function sortRows(rows, view) {
  const name = (r) => (r.vm_id ? r.vm_name || r.vm_id : r.missing ? '\uffff' : r.value);
  const key = view.sort === 'name' || view.sort === 'value' ? null : view.sort;
  const dir = view.order === 'asc' ? 1 : -1;
  return rows.slice().sort((a, b) => {
    if (key) {
      const x = a[key] ?? '';
      const y = b[key] ?? '';
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      if (c) return c * dir;
      return name(a).localeCompare(name(b));
    }
    return name(a).localeCompare(name(b)) * dir;
  });
}
