// The events tab of the VM page: what happened to the VM (restores,
// reboots, OOM kills, VMM exits, source changes, clock skew, cross-checks),
// newest first, from GET /v1/vms/{id}/events and then live from the stream.

import { call, vmPath } from './api.js';
import { h, setText } from './dom.js';
import { time } from './format.js';

const RELOAD_MS = 5000;

export const LABEL = {
  restore: 'restored', reboot: 'rebooted', oom_kill: 'OOM kill', vmm_exit: 'VMM exited',
  source_change: 'source changed', agent_restart: 'agent restarted', clock_skew: 'clock skew', cross_check: 'cross-check failed', id_clash: 'id clash',
};

/** EventsTab lists a VM's events. */
export class EventsTab {
  constructor(id, onChange = () => {}) {
    this.id = id;
    this.onChange = onChange; // gets every event shown, after each change
    this.events = [];
    this.list = h('ol', { class: 'events', 'aria-live': 'polite' });
    this.empty = h('p', { class: 'empty', text: 'No events yet.' });
    this.el = h('div', {}, this.empty, this.list);
    this.seen = new Set();
  }

  /**
   * start loads the newest events, and again every RELOAD_MS: the manager
   * stores events up to a second after it streams them, so one that came
   * just before the page opened may be missing from the first answer.
   */
  async start() {
    this.timer = setInterval(() => this.load(), RELOAD_MS);
    await this.load();
  }

  async load() {
    try {
      const events = await call('GET', `${vmPath(this.id)}/events?limit=50`);
      for (const e of events.reverse()) this.add(e);
    } catch {
      if (!this.events.length) setText(this.empty, 'Events could not be loaded.');
    }
  }

  close() {
    clearInterval(this.timer);
  }

  /** add shows e at the top, once. */
  add(e) {
    // Streamed events have no id yet; stored ones do: the key is neither.
    const key = `${e.type}-${e.timestamp_ms}-${e.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.events.push(e);
    this.onChange(this.events);
    this.empty.hidden = true;
    this.list.prepend(h('li', { class: `event event-${e.type}` },
      h('time', { text: time(e.timestamp_ms) }), ' ',
      h('strong', { text: LABEL[e.type] || e.type }), ' ',
      h('span', { text: e.message })));
  }
}
