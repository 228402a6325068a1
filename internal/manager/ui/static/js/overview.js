// The fleet overview, the landing page: VMs counted by state and by
// source (each count a link to the list filtered so), the top VMs by CPU,
// memory, network and disk, the host agents with their VMs, and the latest
// events — from GET /v1/fleet and /v1/events, then live from the fleet
// stream (a summary every few seconds, every event as it happens); and the
// fleet grouped by a label the operator names (#/?group_by=tenant).

import { call, fleetStream } from './api.js';
import { h, rendered, setText } from './dom.js';
import { ago, kib, percent, rate, time } from './format.js';
import { LABEL } from './events.js';
import { listHash } from './list.js';

const EVENTS = 10;
const HOSTS = 12; // host agents shown: those not answering first, then the largest
const STATE_NAMES = { live: 'Live', stale: 'Stale', pending: 'No sample yet', gone: 'Gone' };
const SOURCE_NAMES = { guest: 'Guest agent', vcpu: 'vCPU threads', balloon: 'Balloon', host: 'Host fallback (VMM process)', none: 'None' };
const TOPS = [
  { key: 'cpu', title: 'Highest CPU', sort: 'cpu', fmt: percent },
  { key: 'memory', title: 'Highest memory', sort: 'memory', fmt: percent },
  { key: 'network', title: 'Most network traffic', sort: 'net', fmt: rate },
  { key: 'disk', title: 'Most disk traffic', sort: 'disk', fmt: rate },
];

/** showOverview renders the fleet overview into main; it returns { close }. */
export async function showOverview(main, setConnection, query = '') {
  // The events come when they come: the counts are what paints first.
  const events = call('GET', `/v1/events?limit=${EVENTS}`);
  const fleet = await call('GET', '/v1/fleet');
  const groupBy = new URLSearchParams(query).get('group_by') || '';
  const summary = h('p', { class: 'count' });
  const states = countCard('By state', 'state');
  const cpu = countCard('CPU figures from', 'source');
  const mem = countCard('Memory figures from', 'source');
  const tops = TOPS.map((t) => topCard(t));
  const hosts = hostsCard();
  const latest = eventsCard(events);
  const groups = groupsCard(groupBy);
  let last = fleet;

  const render = (f) => {
    last = f;
    // With managers sharing a database, one that did not answer leaves its VMs out: say so.
    const missing = f.missing_managers && f.missing_managers.length
      ? ` · not answering: ${f.missing_managers.join(', ')} (its VMs are not counted)` : '';
    setText(summary, `${f.vms.toLocaleString('en')} VM${f.vms === 1 ? '' : 's'} · ${f.hosts_total.toLocaleString('en')} host agent${f.hosts_total === 1 ? '' : 's'} · ${f.direct.toLocaleString('en')} polled directly · updated ${ago(f.generated_ms)}${missing}`);
    states.show(['live', 'stale', 'pending', 'gone'], f.by_state, STATE_NAMES, f.vms);
    cpu.show(['guest', 'vcpu', 'host', 'none'], f.by_source, SOURCE_NAMES, f.vms);
    mem.show(['guest', 'balloon', 'host', 'none'], f.by_memory_source, SOURCE_NAMES, f.vms);
    tops.forEach((t, i) => t.show(f.top[TOPS[i].key] || []));
    hosts.show(f.hosts, f.hosts_total);
    rendered();
  };
  // The groups are a view of their own: fetched with the summary's pace.
  const regroup = () => groups.load().catch(() => {});

  main.append(
    h('div', { class: 'page-head' }, h('h1', { text: 'Fleet' }), summary),
    h('div', { class: 'cards counts' }, states.el, cpu.el, mem.el),
    h('div', { class: 'cards tops' }, ...tops.map((t) => t.el)),
    h('div', { class: 'cards wide' }, groups.el),
    h('div', { class: 'cards wide' }, hosts.el, latest.el),
  );
  render(fleet);
  regroup();
  const regrouper = setInterval(regroup, 5000);
  performance.mark('fcmon:overview');
  const ticker = setInterval(() => setText(summary, summary.textContent.replace(/updated .*$/, `updated ${ago(last.generated_ms)}`)), 1000);
  const live = fleetStream({ fleet: render, event: (e) => latest.add(e) }, setConnection);
  return { close() { live.close(); clearInterval(ticker); clearInterval(regrouper); } };
}

/**
 * groupsCard is the fleet grouped by a label the operator names
 * (GET /v1/fleet?group_by=), kept in the URL as #/?group_by=.
 */
function groupsCard(groupBy) {
  const input = h('input', { id: 'group-by', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'tenant', value: groupBy });
  const error = h('p', { class: 'error', role: 'alert' });
  const body = h('tbody');
  const table = h('table', { class: 'groups', 'aria-label': 'VMs by label', hidden: !groupBy },
    h('thead', {}, h('tr', {}, ...['Value', 'VMs', 'Live', 'CPU, summed', 'Memory in use'].map((t) => h('th', { scope: 'col', text: t })))),
    body);
  const form = h('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    location.hash = v ? `#/?group_by=${encodeURIComponent(v)}` : '#/';
  } }, h('div', { class: 'field' }, h('label', { for: 'group-by', text: 'Group by label' }), input),
  h('button', { type: 'submit', text: 'Group' }));
  return {
    el: h('section', { class: 'card', 'aria-labelledby': 'groups-title' }, h('h2', { id: 'groups-title', text: 'By label' }), form, error, table),
    async load() {
      if (!groupBy) return;
      let f;
      try {
        f = await call('GET', `/v1/fleet?group_by=${encodeURIComponent(groupBy)}`);
        setText(error, '');
      } catch (err) {
        setText(error, err.message || String(err));
        table.hidden = true;
        return;
      }
      table.hidden = false;
      body.replaceChildren(...(f.groups || []).map((g) => h('tr', {},
        h('th', { scope: 'row' }, g.missing ? h('em', { text: `no ${groupBy}` })
          : h('a', { href: listHash({ labels: [`${groupBy}=${g.value}`] }), text: g.value })),
        h('td', { class: 'num', text: g.vms.toLocaleString('en') }),
        h('td', { class: 'num', text: g.live.toLocaleString('en') }),
        h('td', { class: 'num', text: percent(g.cpu_percent_sum) }),
        h('td', { class: 'num', text: kib(g.memory_used_kb_sum) }))));
    },
  };
}

/** countCard shows counts as links to the list filtered by them. */
function countCard(title, param) {
  const list = h('ul', { class: 'counts-list' });
  const items = new Map();
  return {
    el: h('section', { class: 'card', 'aria-label': title }, h('h2', { text: title }), list),
    show(keys, counts, names, total) {
      for (const k of keys) {
        let it = items.get(k);
        if (!it) {
          const n = h('span', { class: 'n' });
          const bar = h('span', { class: `bar bar-${k}` });
          it = { n, bar, li: h('li', {}, h('a', { href: listHash({ [param]: k }) }, h('span', { class: 'label', text: names[k] }), n), h('span', { class: 'track', 'aria-hidden': 'true' }, bar)) };
          items.set(k, it);
          list.append(it.li);
        }
        const v = counts[k] || 0;
        setText(it.n, v.toLocaleString('en'));
        it.bar.style.width = `${total ? (100 * v) / total : 0}%`;
      }
    },
  };
}

/** topCard lists the top VMs by one figure, each a link to its page. */
function topCard(t) {
  const body = h('tbody');
  const empty = h('p', { class: 'empty', text: 'No live VM has this figure.' });
  return {
    el: h('section', { class: 'card' },
      h('h2', {}, h('a', { href: listHash({ sort: t.sort }), text: t.title })),
      h('table', { class: 'toplist', 'aria-label': t.title },
        h('thead', { class: 'visually-hidden' }, h('tr', {}, h('th', { scope: 'col', text: 'VM' }), h('th', { scope: 'col', text: 'Value' }))),
        body),
      empty),
    show(list) {
      empty.hidden = list.length > 0;
      const key = list.map((v) => `${v.id}=${v.value}`).join(',');
      if (body.dataset.key === key) return;
      body.dataset.key = key;
      body.replaceChildren(...list.map((v) => h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: `#/vms/${encodeURIComponent(v.id)}`, text: v.name })),
        h('td', { class: 'num', text: t.fmt(v.value) }))));
    },
  };
}

/** hostsCard lists the host agents, those not answering first. */
function hostsCard() {
  const body = h('tbody');
  const more = h('p', { class: 'more' });
  const empty = h('p', { class: 'empty', text: 'No host agents. Start one beside Firecracker and add it with --host-agents or POST /v1/hosts.' });
  return {
    el: h('section', { class: 'card' }, h('h2', { text: 'Host agents' }),
      h('table', { class: 'hosts', 'aria-label': 'Host agents' },
        h('thead', {}, h('tr', {}, ...['Host', 'Collecting', 'VMs', 'Live'].map((x) => h('th', { scope: 'col', text: x })))),
        body),
      empty, more),
    show(all, total) {
      const list = all.slice(0, HOSTS);
      empty.hidden = total > 0;
      setText(more, total > list.length ? `and ${(total - list.length).toLocaleString('en')} more (GET /v1/hosts lists them all)` : '');
      const key = JSON.stringify(list);
      if (body.dataset.key === key) return;
      body.dataset.key = key;
      body.replaceChildren(...list.map((x) => h('tr', {},
        h('th', { scope: 'row' }, h('a', { href: listHash({ host: x.id }), text: x.name || x.url })),
        h('td', {}, h('span', { class: `pill pill-${x.reachable ? 'guest' : 'offline'}`, text: x.reachable ? 'yes' : 'no' }),
          x.last_error ? h('span', { class: 'reason', text: ` ${x.last_error}` }) : null),
        h('td', { class: 'num', text: x.vms.toLocaleString('en') }),
        h('td', { class: 'num', text: x.live.toLocaleString('en') }))));
    },
  };
}

/** eventsCard shows the latest events of every VM, newest first. */
function eventsCard(initial) {
  const list = h('ol', { class: 'events', 'aria-live': 'polite', 'aria-label': 'Latest events' });
  const empty = h('p', { class: 'empty', text: 'No events yet.' });
  const seen = new Set();
  const card = {
    el: h('section', { class: 'card' }, h('h2', { text: 'Latest events' }), empty, list),
    add(e) {
      // Streamed events have no id yet; stored ones do: the key is neither.
      const key = `${e.vm_id}-${e.type}-${e.timestamp_ms}-${e.message}`;
      if (seen.has(key)) return;
      seen.add(key);
      empty.hidden = true;
      list.prepend(h('li', { class: `event event-${e.type}` },
        h('time', { text: time(e.timestamp_ms) }), ' ',
        h('strong', { text: LABEL[e.type] || e.type }), ' ',
        h('a', { href: `#/vms/${encodeURIComponent(e.vm_id)}`, text: e.vm_id.slice(0, 8) }), ' ',
        h('span', { text: e.message })));
      while (list.children.length > EVENTS) list.lastElementChild.remove();
    },
  };
  setText(empty, 'Loading events…');
  initial.then((list) => {
    for (const e of [...list].reverse()) card.add(e);
    setText(empty, 'No events yet.');
  }, () => setText(empty, 'Events could not be loaded.'));
  return card;
}
