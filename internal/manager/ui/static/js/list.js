// The VM list: one page of VMs at a time, searched, filtered, sorted and
// paged by the manager (GET /v1/vms?q=&state=&source=&host=&label=&sort=
// &order=&offset=&limit=), the view kept in the URL (#/vms?...), live figures and
// a CPU sparkline for the rows on screen only (the fleet stream's watch),
// and the form that registers a VM.

import { call, fleetStream, may } from './api.js';
import { h, rendered, setText } from './dom.js';
import { NONE, kib, percent, rate } from './format.js';
import { status } from './status.js';
import { registerForm } from './register.js';

export const PAGE = 50;
// The page is fetched again this often, for VMs registered, removed or
// moving in the sort order.
const RELOAD_MS = 10000;
// Typing waits this long for the next key before it searches.
const SEARCH_MS = 150;
// Points kept per sparkline: a minute and a half of 1-second samples.
const SPARK = 90;

const STATES = ['', 'live', 'stale', 'pending', 'gone'];
const SOURCES = ['', 'guest', 'vcpu', 'balloon', 'host', 'none'];
const SOURCE_NAMES = { guest: 'guest agent', vcpu: 'vCPU threads', balloon: 'balloon', host: 'host fallback', none: 'none' };
const COLUMNS = [
  { key: 'name', label: 'Name', sort: 'name' },
  { key: 'id', label: 'ID' },
  { key: 'status', label: 'Status' },
  { key: 'cpu', label: 'CPU', sort: 'cpu', num: true },
  { key: 'trend', label: 'CPU, last 90 s' },
  { key: 'mem', label: 'Memory', sort: 'memory', num: true },
  { key: 'net', label: 'Network rx / tx', sort: 'net', num: true },
  { key: 'disk', label: 'Disk read / write', sort: 'disk', num: true },
];
const DEFAULT_ORDER = { name: 'asc', age: 'asc', cpu: 'desc', memory: 'desc', net: 'desc', disk: 'desc' };

/** listHash is the URL of a list view: params with the defaults left out. */
export function listHash(params) {
  const q = new URLSearchParams();
  for (const k of ['q', 'state', 'source', 'host', 'sort', 'order', 'offset']) {
    const v = params[k];
    if (v && !(k === 'sort' && v === 'name') && !(k === 'offset' && Number(v) === 0)
      && !(k === 'order' && v === DEFAULT_ORDER[params.sort || 'name'])) q.set(k, v);
    if (k === 'host') for (const term of params.labels || []) q.append('label', term);
  }
  const s = q.toString();
  return s ? `#/vms?${s}` : '#/vms';
}

/** parseList reads a list view's parameters from a hash's query. */
export function parseList(query) {
  const q = new URLSearchParams(query);
  const sort = DEFAULT_ORDER[q.get('sort')] ? q.get('sort') : 'name';
  const order = ['asc', 'desc'].includes(q.get('order')) ? q.get('order') : DEFAULT_ORDER[sort];
  const offset = Math.max(0, Math.floor(Number(q.get('offset')) || 0));
  return {
    q: q.get('q') || '', state: STATES.includes(q.get('state')) ? q.get('state') : '',
    source: SOURCES.includes(q.get('source')) ? q.get('source') : '', host: q.get('host') || '', sort, order, offset,
    labels: q.getAll('label').filter(Boolean),
  };
}

/** showList renders the list into main; it returns { close, navigate }. */
export async function showList(main, setConnection, params) {
  let view = params;
  const rows = new Map(); // vm id → row, the rows on screen
  const sparks = new Map(); // vm id → recent CPU figures
  const tbody = h('tbody');
  const count = h('p', { class: 'count', role: 'status', 'aria-live': 'polite' });
  const empty = h('p', { class: 'empty', hidden: true });
  const table = h('table', { class: 'vms', 'aria-labelledby': 'vms-caption' });
  const pager = pagerControls((offset) => go({ offset }));
  const controls = filterControls(view, (change) => go({ ...change, offset: 0 }, change.q !== undefined));
  const heads = COLUMNS.map((c) => sortHeader(c, () => {
    const order = view.sort === c.sort ? (view.order === 'asc' ? 'desc' : 'asc') : DEFAULT_ORDER[c.sort];
    go({ sort: c.sort, order, offset: 0 });
  }));
  let generation = 0;
  let live = null;

  // go changes the view through the URL, so the back button and a shared
  // link show it again; typing replaces the entry rather than adding one.
  const go = (change, replace = false) => {
    const next = listHash({ ...view, ...change });
    if (next === location.hash) return;
    if (replace) {
      history.replaceState(null, '', next);
      navigate(parseList(next.split('?')[1] || ''));
    } else {
      location.hash = next;
    }
  };

  const load = async () => {
    const mine = ++generation;
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(view.offset), sort: view.sort, order: view.order });
    for (const k of ['q', 'state', 'source', 'host']) if (view[k]) q.set(k, view[k]);
    for (const term of view.labels || []) q.append('label', term);
    table.setAttribute('aria-busy', 'true');
    let page;
    try {
      page = await call('GET', `/v1/vms?${q}`);
    } finally {
      if (mine === generation) table.removeAttribute('aria-busy');
    }
    if (mine !== generation) return; // a newer view is loading
    const order = [];
    const seen = new Set();
    for (const vm of page.vms) {
      seen.add(vm.id);
      let row = rows.get(vm.id);
      if (!row) {
        row = makeRow(vm);
        rows.set(vm.id, row);
      }
      row.vm = vm;
      if (vm.latest) push(sparks, vm.latest);
      update(row, vm.latest, sparks);
      order.push(row.tr);
    }
    for (const id of rows.keys()) if (!seen.has(id)) rows.delete(id);
    for (const id of sparks.keys()) if (!seen.has(id)) sparks.delete(id);
    tbody.replaceChildren(...order);
    const first = page.total === 0 ? 0 : page.offset + 1;
    const last = page.offset + page.vms.length;
    const missing = page.missing_managers && page.missing_managers.length
      ? ` (not answering: ${page.missing_managers.join(', ')}; their VMs are left out)` : '';
    setText(count, (page.total === 0 ? 'No VMs match' : `${first}–${last} of ${page.total.toLocaleString('en')} VM${page.total === 1 ? '' : 's'}`) + missing);
    empty.hidden = page.total > 0;
    setText(empty, filtered(view) ? 'No VM matches these filters.' : 'No VMs registered yet. Register one below, or with POST /v1/vms; host agents report theirs by themselves.');
    pager.show(page);
    heads.forEach((th, i) => th.mark(view, COLUMNS[i]));
    live?.watch([...rows.keys()]);
    rendered();
  };

  main.append(
    h('div', { class: 'page-head' }, h('h1', { text: 'Virtual machines' }), count),
    controls.el,
    h('div', { class: 'table-wrap' }, table),
    empty,
    pager.el,
  );
  table.append(
    h('caption', { id: 'vms-caption', class: 'visually-hidden', text: 'Virtual machines' }),
    h('thead', {}, h('tr', {}, ...heads.map((x) => x.th))),
    tbody);
  await load();
  // After the first load, so a token asked for on its 401 has named its role.
  if (may('admin')) main.append(registerForm(() => load().catch(() => {})));

  live = fleetStream({
    sample: (s) => {
      const row = rows.get(s.vm_id);
      if (!row) return;
      push(sparks, s);
      update(row, s, sparks);
    },
  }, setConnection);
  live.watch([...rows.keys()]);
  const timer = setInterval(() => load().catch(() => {}), RELOAD_MS);

  function navigate(next) {
    view = next;
    controls.set(view);
    return load();
  }
  return {
    close() { generation++; live.close(); clearInterval(timer); },
    navigate,
  };
}

const filtered = (v) => v.q || v.state || v.source || v.host || (v.labels && v.labels.length);

/** filterControls: the search box and the state and source filters. */
function filterControls(view, onChange) {
  let timer = 0;
  const search = h('input', { id: 'vm-search', type: 'search', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'name, id, guest IP or Firecracker id', value: view.q });
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => onChange({ q: search.value.trim() }), SEARCH_MS);
  });
  const select = (id, options, names, value, key) => {
    const el = h('select', { id }, ...options.map((o) => h('option', { value: o, text: o ? names[o] || o : 'any' })));
    el.value = value;
    el.addEventListener('change', () => onChange({ [key]: el.value }));
    return el;
  };
  const labelsIn = h('input', { id: 'vm-labels', type: 'text', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'tenant=acme tier!=dev', value: (view.labels || []).join(' ') });
  labelsIn.addEventListener('change', () => onChange({ labels: labelTerms(labelsIn.value) }));
  const state = select('vm-state', STATES, {}, view.state, 'state');
  const source = select('vm-source', SOURCES, SOURCE_NAMES, view.source, 'source');
  const host = h('p', { class: 'host-filter' });
  const showHost = (v) => {
    host.hidden = !v.host;
    host.replaceChildren(...(v.host ? ['Host agent ', h('code', { text: v.host }), ' ',
      h('a', { href: listHash({ ...v, host: '', offset: 0 }), text: 'show all hosts' })] : []));
  };
  showHost(view);
  const el = h('form', { class: 'filters', role: 'search', 'aria-label': 'Find VMs', onsubmit: (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    onChange({ q: search.value.trim(), labels: labelTerms(labelsIn.value) });
  } },
  h('div', { class: 'field grow' }, h('label', { for: 'vm-search', text: 'Search' }), search),
  h('div', { class: 'field' }, h('label', { for: 'vm-labels', text: 'Labels' }), labelsIn),
  h('div', { class: 'field' }, h('label', { for: 'vm-state', text: 'State' }), state),
  h('div', { class: 'field' }, h('label', { for: 'vm-source', text: 'Source' }), source),
  host);
  return {
    el,
    set(v) {
      if (document.activeElement !== search) search.value = v.q;
      if (document.activeElement !== labelsIn) labelsIn.value = (v.labels || []).join(' ');
      state.value = v.state;
      source.value = v.source;
      showHost(v);
    },
  };
}

/** labelTerms splits a label filter, space separated (tenant=acme tier!=dev gpu !spot), into its terms. */
export const labelTerms = (text) => text.split(/\s+/).filter(Boolean);

/** sortHeader is a column head; a sortable one is a button. */
function sortHeader(col, onSort) {
  if (!col.sort) return { th: h('th', { scope: 'col', text: col.label }), mark() {} };
  const button = h('button', { type: 'button', class: 'sort', text: col.label, onclick: onSort });
  const th = h('th', { scope: 'col', class: col.num ? 'num' : null }, button);
  return {
    th,
    mark(view) {
      const on = view.sort === col.sort;
      if (on) th.setAttribute('aria-sort', view.order === 'asc' ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
      button.dataset.dir = on ? view.order : '';
      button.setAttribute('aria-label', `${col.label}: sort ${on && view.order === 'desc' ? 'ascending' : on ? 'descending' : DEFAULT_ORDER[col.sort] === 'asc' ? 'ascending' : 'descending'}`);
    },
  };
}

/** pagerControls: previous and next page, and where this page lies. */
function pagerControls(onPage) {
  let page = { offset: 0, limit: PAGE, total: 0 };
  const prev = h('button', { type: 'button', text: '← Previous', onclick: () => onPage(Math.max(0, page.offset - page.limit)) });
  const next = h('button', { type: 'button', text: 'Next →', onclick: () => onPage(page.offset + page.limit) });
  const where = h('span', { class: 'where' });
  return {
    el: h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, where, next),
    show(p) {
      page = p;
      prev.disabled = p.offset === 0;
      next.disabled = p.offset + p.limit >= p.total;
      const pages = Math.max(1, Math.ceil(p.total / p.limit));
      setText(where, `Page ${Math.floor(p.offset / p.limit) + 1} of ${pages.toLocaleString('en')}`);
    },
  };
}

function makeRow(vm) {
  const c = {
    name: h('a', { href: `#/vms/${encodeURIComponent(vm.id)}` }),
    chips: h('span', { class: 'chips' }),
    id: h('code', { class: 'id' }),
    pill: h('span', { class: 'pill' }),
    reason: h('span', { class: 'reason' }),
    cpu: h('td', { class: 'num' }),
    spark: svgSpark(),
    mem: h('td', { class: 'num' }),
    net: h('td', { class: 'num' }),
    disk: h('td', { class: 'num' }),
  };
  const tr = h('tr', { dataset: { vmId: vm.id } },
    h('th', { scope: 'row' }, c.name, c.chips), h('td', {}, c.id),
    h('td', { class: 'status' }, c.pill, c.reason), c.cpu, h('td', { class: 'spark' }, c.spark.el), c.mem, c.net, c.disk);
  return { tr, c, vm, sample: null };
}

/** push adds a sample's CPU to its VM's sparkline figures. */
function push(sparks, s) {
  let p = sparks.get(s.vm_id);
  if (!p) sparks.set(s.vm_id, (p = []));
  if (p.length && p[p.length - 1].t >= s.timestamp_ms) return;
  p.push({ t: s.timestamp_ms, v: typeof s.cpu_usage_percent === 'number' ? s.cpu_usage_percent : null });
  if (p.length > SPARK) p.shift();
}

/** update shows the row's VM with its newest sample (or none yet). */
function update(row, sample, sparks) {
  if (sample && (!row.sample || sample.timestamp_ms >= row.sample.timestamp_ms)) row.sample = sample;
  const { c, vm } = row;
  const s = row.sample;
  setText(c.name, vm.name);
  const key = labelKey(vm.labels);
  if (c.chips.dataset.key !== key) {
    c.chips.dataset.key = key;
    c.chips.replaceChildren(...labelChips(vm.labels));
  }
  setText(c.id, vm.id);
  const st = status(vm, s && s.timestamp_ms >= (vm.last_sample_ms || 0) ? s : vm);
  setText(c.pill, st.label);
  c.pill.className = `pill pill-${st.kind}`;
  setText(c.reason, st.reason);
  c.reason.title = st.reason;
  setText(c.cpu, percent(s?.cpu_usage_percent));
  c.spark.draw(sparks.get(vm.id) || []);
  setText(c.mem, memory(s));
  setText(c.net, s?.network ? `${rate(s.network.rx_bytes_per_sec)} / ${rate(s.network.tx_bytes_per_sec)}` : NONE);
  setText(c.disk, s?.disk ? `${rate(s.disk.read_bytes_per_sec)} / ${rate(s.disk.write_bytes_per_sec)}` : NONE);
}

/** labelKey is a VM's labels as one string, to redraw chips on change only. */
const labelKey = (labels) => Object.keys(labels || {}).sort().map((k) => `${k}=${labels[k]}`).join('\n');

/**
 * labelChips are a VM's labels, each a link to the list of the VMs with
 * that label's value.
 */
export function labelChips(labels) {
  return Object.keys(labels || {}).sort().map((k) => h('a', {
    class: 'chip', href: listHash({ labels: [`${k}=${labels[k]}`] }), text: `${k}=${labels[k]}`,
    title: `every VM with ${k}=${labels[k]}`,
  }));
}

const SVG = 'http://www.w3.org/2000/svg';
const SPARK_W = 90;
const SPARK_H = 20;

/** svgSpark is a small line of CPU % (0–100) over the last SPARK samples. */
function svgSpark() {
  const el = document.createElementNS(SVG, 'svg');
  el.setAttribute('viewBox', `0 0 ${SPARK_W} ${SPARK_H}`);
  el.setAttribute('width', String(SPARK_W));
  el.setAttribute('height', String(SPARK_H));
  el.setAttribute('class', 'sparkline');
  el.setAttribute('aria-hidden', 'true');
  const line = document.createElementNS(SVG, 'polyline');
  el.append(line);
  return {
    el,
    draw(points) {
      const pts = [];
      const x0 = SPARK - points.length;
      points.forEach((p, i) => {
        if (p.v !== null) pts.push(`${x0 + i},${(SPARK_H - 1 - (Math.min(100, p.v) / 100) * (SPARK_H - 2)).toFixed(1)}`);
      });
      const d = pts.join(' ');
      if (line.getAttribute('points') !== d) line.setAttribute('points', d);
    },
  };
}

function memory(s) {
  if (!s) return NONE;
  if (typeof s.memory_usage_percent === 'number') return percent(s.memory_usage_percent);
  // The host fallback has the VMM's resident set but no guest total.
  return s.memory_used_kb ? `${kib(s.memory_used_kb)} RSS` : NONE;
}
