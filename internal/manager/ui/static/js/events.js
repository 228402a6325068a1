// The events tab of the VM page: what happened to the VM (restores,
// reboots, OOM kills, VMM exits, source changes, clock skew, cross-checks),
// newest first, from GET /v1/vms/{id}/events and then live from the stream.

import { call, vmPath } from './api.js';
import { h, setText } from './dom.js';
import { time } from './format.js';

const LABEL = {
  restore: 'restored', reboot: 'rebooted', oom_kill: 'OOM kill', vmm_exit: 'VMM exited',
  source_change: 'source changed', agent_restart: 'agent restarted', clock_skew: 'clock skew', cross_check: 'cross-check failed',
};

/** EventsTab lists a VM's events. */
export class EventsTab {
  constructor(id) {
    this.id = id;
    this.list = h('ol', { class: 'events', 'aria-live': 'polite' });
    this.empty = h('p', { class: 'empty', text: 'No events yet.' });
    this.el = h('div', {}, this.empty, this.list);
    this.seen = new Set();
  }

  /** start loads the newest events. */
  async start() {
    try {
      const events = await call('GET', `${vmPath(this.id)}/events?limit=50`);
      for (const e of events.reverse()) this.add(e);
    } catch {
      setText(this.empty, 'Events could not be loaded.');
    }
  }

  /** add shows e at the top, once. */
  add(e) {
    const key = e.id || `${e.type}-${e.timestamp_ms}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.empty.hidden = true;
    this.list.prepend(h('li', { class: `event event-${e.type}` },
      h('time', { text: time(e.timestamp_ms) }), ' ',
      h('strong', { text: LABEL[e.type] || e.type }), ' ',
      h('span', { text: e.message })));
  }
}
