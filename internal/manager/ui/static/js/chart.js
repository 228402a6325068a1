// One chart card of the metrics tab: title, source badge, current value
// and a uPlot time chart (or a note when the chart library is missing).
// The plot element exposes what was last drawn as data-points,
// data-last-ts (Unix ms) and data-last (each series' newest value, in the
// series' order, comma-separated, empty where absent), for people
// debugging and for the browser tests.

import { h, setText } from './dom.js';
import { sourceLabel } from './status.js';
import { byteIncrs, colors } from './uplot.js';

const HEIGHT = 190;

// tick drops trailing zeros from an axis label: "8.00 GiB" → "8 GiB".
const tick = (text) => text.replace(/\.0+(?=\D)/, '').replace(/(\.\d*?)0+(?=\D)/, '$1');

export class Chart {
  /**
   * def: { key, title, fmt (value → text), bytes (byte axis?), yMax (least
   * top of the y axis), series: [{ label, field, dash (a limit: drawn
   * dashed) }], now (sample → text) }.
   * xRange() gives the visible [min, max] in Unix seconds.
   */
  constructor(def, UPlot, xRange) {
    this.def = def;
    this.UPlot = UPlot;
    this.xRange = xRange;
    this.data = [[], ...def.series.map(() => [])];
    this.marks = []; // events: { t: Unix s, label }
    this.badge = h('span', { class: 'source', dataset: { source: 'none' }, text: sourceLabel('none') });
    this.now = h('p', { class: 'now', 'aria-live': 'off' });
    this.plot = h('div', { class: 'plot', dataset: { points: '0', lastTs: '0', drawn: 'false' } });
    const titleId = `chart-${def.key}-title`;
    this.el = h('section', { class: 'card chart', 'aria-labelledby': titleId, dataset: { chart: def.key } },
      h('div', { class: 'chart-head' },
        h('h3', { id: titleId, text: def.title }),
        h('span', { class: 'visually-hidden', text: 'source:' }), this.badge),
      this.now, this.plot);
    if (!UPlot) {
      this.plot.append(h('p', { class: 'unavailable',
        text: 'Charts are unavailable: this manager was built without the chart library (run make, which installs uPlot from npm, then rebuild bin/manager).' }));
    }
  }

  /** mount builds the uPlot once the card is in the document. */
  mount() {
    if (!this.UPlot) return;
    this.resize = new ResizeObserver(() => {
      const width = Math.floor(this.plot.clientWidth);
      if (this.u && width > 0 && width !== this.u.width) this.u.setSize({ width, height: HEIGHT });
    });
    this.resize.observe(this.plot);
    this.build();
  }

  /** build (re)creates the uPlot, keeping the data: on mount and when the colour scheme changes. */
  build() {
    this.u?.destroy();
    const c = colors();
    const { def } = this;
    const axis = { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 } };
    const yMax = def.yMax || 0;
    const opts = {
      width: Math.max(200, Math.floor(this.plot.clientWidth)),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false, setScale: false } },
      legend: { live: true },
      scales: {
        x: { time: true, range: () => this.xRange() },
        y: { range: (u, min, max) => [0, Math.max(yMax, (max || 0) * 1.1) || 1] },
      },
      axes: [
        { ...axis },
        { ...axis, size: 78, values: (u, splits) => splits.map((v) => tick(def.fmt(v))),
          ...(def.bytes ? { incrs: byteIncrs } : {}) },
      ],
      series: [
        {},
        ...def.series.map((s, i) => ({
          label: s.label, stroke: c.series[i], width: 1.5,
          fill: i === 0 ? c.fill : undefined, dash: s.dash ? [6, 4] : undefined,
          points: { show: false }, value: (u, v) => def.fmt(v),
        })),
      ],
      hooks: { draw: [(u) => this.drawn(u)] },
    };
    this.u = new this.UPlot(opts, this.data, this.plot);
  }

  drawn(u) {
    // Events on the timeline: a dashed line at each, across the plot.
    const { left, top, width, height } = u.bbox;
    let shown = 0;
    for (const m of this.marks) {
      const x = Math.round(u.valToPos(m.t, 'x', true));
      if (x < left || x > left + width) continue;
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = colors().event;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      ctx.stroke();
      ctx.restore();
      shown++;
    }
    this.plot.dataset.events = String(shown);
    const xs = u.data[0];
    this.plot.dataset.points = String(xs.length);
    this.plot.dataset.lastTs = String(xs.length ? Math.round(xs[xs.length - 1] * 1000) : 0);
    this.plot.dataset.drawn = 'true';
  }

  /** setData shows rows ({ t: Unix s, <field>: number|null }), oldest first. */
  setData(rows) {
    this.data = [rows.map((r) => r.t), ...this.def.series.map((s) => rows.map((r) => r[s.field] ?? null))];
    this.plot.dataset.last = this.data.slice(1).map((col) => {
      for (let i = col.length - 1; i >= 0; i--) if (col[i] !== null) return String(col[i]);
      return '';
    }).join(',');
    if (this.u) {
      this.u.setData(this.data);
    } else {
      this.plot.dataset.points = String(rows.length);
      this.plot.dataset.lastTs = String(rows.length ? Math.round(rows[rows.length - 1].t * 1000) : 0);
    }
  }

  /** setMarks shows events ({ t: Unix s }) on the timeline. */
  setMarks(marks) {
    this.marks = marks;
    this.u?.redraw(false, false);
  }

  /** showSample updates the badge and the current value from a live sample. */
  showSample(sample) {
    const source = this.def.source(sample) || 'none';
    setText(this.badge, sourceLabel(source));
    this.badge.dataset.source = source;
    setText(this.now, this.def.now(sample));
  }

  destroy() {
    this.resize?.disconnect();
    this.u?.destroy();
  }
}
