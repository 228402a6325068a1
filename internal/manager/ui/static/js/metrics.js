// The metrics tab: five charts (CPU, CPU throttling by the VMM's cgroup,
// memory with the cgroup's use and limit, network, disk) over a chosen
// range. "5 min" is live: it starts from the history and then moves with
// every sample of the VM's WebSocket. Longer ranges come from the history
// at a step that keeps them under about 1,500 points, refreshed each minute.

import { call, vmPath } from './api.js';
import { h } from './dom.js';
import { bytes, kib, percent, rate } from './format.js';
import { Chart } from './chart.js';
import { loadUPlot } from './uplot.js';

export const RANGES = [
  { key: '5m', label: '5 min (live)', ms: 5 * 60e3, step: 0 },
  { key: '1h', label: '1 h', ms: 3600e3, step: 5e3 },
  { key: '24h', label: '24 h', ms: 86400e3, step: 60e3 },
  { key: '7d', label: '7 d', ms: 7 * 86400e3, step: 420e3 },
];
const MAX_POINTS = 1500;
const REFRESH_MS = 60e3;

const kb = (v) => (typeof v === 'number' ? v * 1024 : null);
const rates = (a, b) => `rx ${rate(a)} · tx ${rate(b)}`;
const cores = (v) => `${Number(v.toFixed(2))} ${v === 1 ? 'core' : 'cores'}`;

/** guestMemory is the memory chart's guest figure: used of total. */
const guestMemory = (s) => (s.memory_total_kb ? `${kib(s.memory_used_kb)} of ${kib(s.memory_total_kb)}`
  : s.memory_used_kb ? `${kib(s.memory_used_kb)} resident (VMM process)` : 'no data');

/** cgroupMemory is the VMM cgroup's memory: in use, of its limit. */
const cgroupMemory = (c) => `cgroup ${bytes(c.memory_current_bytes)}${typeof c.memory_limit_bytes === 'number'
  ? ` of ${bytes(c.memory_limit_bytes)} limit` : ', no limit'}`;

const NO_CGROUP = "no cgroup: no host agent reads this VM's VMM, or the VMM has no cgroup of its own";

const DEFS = [
  { key: 'cpu', title: 'CPU', fmt: percent, yMax: 100, series: [{ label: 'CPU', field: 'cpu' }],
    source: (s) => s.source, now: (s) => percent(s.cpu_usage_percent) },
  // The share of the cgroup's CPU quota periods in which it was throttled:
  // how much CPU the quota denied the VM, which the CPU chart cannot show.
  { key: 'throttling', title: 'CPU throttling', fmt: percent, yMax: 100,
    series: [{ label: 'periods throttled', field: 'throttled' }],
    source: (s) => (s.cgroup ? 'cgroup' : 'none'),
    now: (s) => (!s.cgroup ? NO_CGROUP : `${percent(s.cgroup.throttled_percent)} of quota periods throttled · ${typeof s.cgroup.cpu_quota_cores === 'number'
      ? `quota ${cores(s.cgroup.cpu_quota_cores)}` : 'no quota'}`) },
  { key: 'memory', title: 'Memory', fmt: bytes, bytes: true,
    series: [{ label: 'used', field: 'memUsed' }, { label: 'total', field: 'memTotal' },
      { label: 'cgroup', field: 'cgMem' }, { label: 'cgroup limit', field: 'cgLimit', dash: true }],
    source: (s) => s.memory_source || s.source,
    now: (s) => (s.cgroup ? `${guestMemory(s)} · ${cgroupMemory(s.cgroup)}` : guestMemory(s)) },
  { key: 'network', title: 'Network', fmt: (v) => rate(v), bytes: true,
    series: [{ label: 'rx', field: 'rx' }, { label: 'tx', field: 'tx' }],
    source: (s) => s.network?.source, now: (s) => (s.network ? rates(s.network.rx_bytes_per_sec, s.network.tx_bytes_per_sec) : 'no data') },
  { key: 'disk', title: 'Disk', fmt: (v) => rate(v), bytes: true,
    series: [{ label: 'read', field: 'rd' }, { label: 'write', field: 'wr' }],
    source: (s) => s.disk?.source,
    now: (s) => (s.disk ? `read ${rate(s.disk.read_bytes_per_sec)} · write ${rate(s.disk.write_bytes_per_sec)}` : 'no data') },
];

/** fromSample turns a combined sample into a chart row. */
const fromSample = (s) => ({
  t: s.timestamp_ms / 1000, cpu: s.cpu_usage_percent, memUsed: kb(s.memory_used_kb), memTotal: kb(s.memory_total_kb),
  throttled: s.cgroup?.throttled_percent, cgMem: s.cgroup?.memory_current_bytes, cgLimit: s.cgroup?.memory_limit_bytes,
  rx: s.network?.rx_bytes_per_sec, tx: s.network?.tx_bytes_per_sec, rd: s.disk?.read_bytes_per_sec, wr: s.disk?.write_bytes_per_sec,
});

/** fromPoint turns a history point into a chart row. */
const fromPoint = (p) => ({
  t: p.timestamp_ms / 1000, cpu: p.cpu_usage_percent, memUsed: kb(p.memory_used_kb), memTotal: kb(p.memory_total_kb),
  throttled: p.throttled_percent, cgMem: kb(p.cgroup_memory_kb), cgLimit: kb(p.cgroup_memory_limit_kb),
  rx: p.net_rx_bytes_per_sec, tx: p.net_tx_bytes_per_sec, rd: p.disk_read_bytes_per_sec, wr: p.disk_write_bytes_per_sec,
});

const span = (ms) => (ms % 60e3 ? `${ms / 1000} s` : `${ms / 60e3} min`);

/**
 * completeMinutes serves the live range when the manager has not been up
 * for all of it: the history then answers in 1-minute rollups. The minute
 * still running is left to the live samples, and an empty row ends the
 * rollups so that no line joins them to the first live sample.
 */
function completeMinutes(rows, stepMs, nowMs) {
  const step = stepMs / 1000;
  const done = rows.filter((row) => row.t + step <= nowMs / 1000);
  if (done.length) done.push({ t: done[done.length - 1].t + step });
  return done;
}

/** thin keeps at most max rows, evenly spaced, always the newest. */
function thin(rows, max) {
  if (rows.length <= max) return rows;
  const every = Math.ceil(rows.length / max);
  return rows.filter((_, i) => (rows.length - 1 - i) % every === 0);
}

export class MetricsTab {
  constructor(vmId) {
    this.vmId = vmId;
    this.range = RANGES[0];
    this.rows = [];
    this.window = [0, 0]; // visible x range, Unix s
    this.note = h('p', { class: 'range-note', role: 'status' });
    this.grid = h('div', { class: 'charts' });
    this.el = h('div', { class: 'metrics', dataset: { range: this.range.key } }, this.rangePicker(), this.note, this.grid);
  }

  rangePicker() {
    return h('fieldset', { class: 'ranges' }, h('legend', { text: 'Range' }),
      ...RANGES.map((r) => h('label', { class: 'range' },
        h('input', { type: 'radio', name: 'range', value: r.key, checked: r === this.range,
          onchange: () => this.setRange(r) }),
        h('span', { text: r.label }))));
  }

  /** start builds the charts (after uPlot loaded or failed) and fills them. */
  async start() {
    const UPlot = await loadUPlot();
    this.charts = DEFS.map((d) => new Chart(d, UPlot, () => this.window));
    this.grid.replaceChildren(...this.charts.map((c) => c.el));
    for (const c of this.charts) c.mount();
    if (this.marks) this.mark(this.marks.map((m) => ({ timestamp_ms: m.t * 1000 })));
    this.scheme = matchMedia('(prefers-color-scheme: dark)');
    this.onScheme = () => this.charts.forEach((c) => c.build());
    this.scheme.addEventListener('change', this.onScheme);
    this.timer = setInterval(() => this.range.step !== 0 && this.load(), REFRESH_MS);
    await this.load();
  }

  /** mark shows events on every chart's timeline. */
  mark(events) {
    this.marks = events.map((e) => ({ t: e.timestamp_ms / 1000 }));
    for (const c of this.charts || []) c.setMarks(this.marks);
  }

  async setRange(r) {
    this.range = r;
    this.rows = []; // live samples from now on join this range's history
    this.el.dataset.range = r.key;
    await this.load();
  }

  /** load fetches the range from the history and redraws. */
  async load() {
    const r = this.range;
    const until = Date.now();
    const q = new URLSearchParams({ since: String(Math.round(until - r.ms)), until: String(until), step: String(r.step) });
    this.note.textContent = `Loading ${r.label}…`;
    try {
      const hist = await call('GET', `${vmPath(this.vmId)}/metrics/history?${q}`);
      if (r !== this.range) return; // the user moved on
      let rows = hist.points.map(fromPoint);
      if (r.step === 0 && hist.step_ms) rows = completeMinutes(rows, hist.step_ms, until);
      // Live samples that arrived while the history was on its way.
      const newest = rows.length ? rows[rows.length - 1].t : 0;
      const arrived = r.step === 0 ? this.rows.filter((row) => row.t > newest && row.t * 1000 > until - r.ms) : [];
      this.rows = thin(rows, MAX_POINTS).concat(arrived);
      const step = hist.step_ms ? `one point per ${span(hist.step_ms)}` : 'every sample';
      this.note.textContent = r.step !== 0 ? `${r.label}: ${step}.`
        : hist.step_ms && rows.length ? 'Live: 1-minute averages from before this manager started, then every sample.'
          : 'Live: every sample, moving as they arrive.';
      this.window = [(until - r.ms) / 1000, until / 1000];
      this.draw();
    } catch (err) {
      this.note.textContent = `The history could not be loaded: ${err.message}`;
    }
  }

  /** live takes a sample from the WebSocket. */
  live(sample) {
    if (!this.charts) return;
    for (const c of this.charts) c.showSample(sample);
    if (this.range.step !== 0) return;
    const row = fromSample(sample);
    const last = this.rows[this.rows.length - 1];
    if (last && row.t <= last.t) return;
    this.rows.push(row);
    const since = row.t - this.range.ms / 1000;
    while (this.rows.length && this.rows[0].t < since) this.rows.shift();
    this.window = [since, row.t];
    this.draw();
  }

  draw() {
    for (const c of this.charts) c.setData(this.rows);
  }

  close() {
    clearInterval(this.timer);
    this.scheme?.removeEventListener('change', this.onScheme);
    for (const c of this.charts || []) c.destroy();
  }
}
