// The VM page: status, the guest agent's address form, and the tabs —
// metrics (the charts) and details (what was registered).

import { call, may, stream, vmPath } from './api.js';
import { h, setText } from './dom.js';
import { NONE, ago, duration, percent, time } from './format.js';
import { clearErrors, field, placeError, values } from './forms.js';
import { EventsTab } from './events.js';
import { MetricsTab } from './metrics.js';
import { labelChips, listHash } from './list.js';
import { status } from './status.js';

// After this long without a sample on the stream, the page asks the API.
const POLL_AFTER_MS = 3000;

/** showVM renders VM id into main; it returns { close }. */
export async function showVM(main, id, setConnection) {
  let vm = await call('GET', vmPath(id));
  let sample = null;
  const title = h('h1', { text: vm.name });
  const pill = h('span', { class: 'pill' });
  const reason = h('span', { class: 'reason' });
  const lastSample = h('dd', {});
  const uptime = h('dd', {});
  const skew = h('dd', {});
  const hostView = h('dd', {});
  const stale = h('p', { class: 'warn', role: 'status', hidden: true });
  const metrics = new MetricsTab(id);
  const events = new EventsTab(id, (list) => metrics.mark(list));
  const details = h('dl', { class: 'details' });

  const render = () => {
    const st = status(vm, sample);
    setText(pill, st.label);
    pill.className = `pill pill-${st.kind}`;
    setText(reason, st.reason);
    setText(lastSample, sample?.source === 'none' || !sample ? ago(vm.last_sample_ms) : ago(sample.timestamp_ms));
    setText(uptime, duration(sample?.uptime_seconds));
    // The checks behind the clock_skew and cross_check events: the guest's
    // word beside the host's.
    const c = sample?.checks;
    setText(skew, typeof c?.clock_skew_ms === 'number' ? `${(Math.abs(c.clock_skew_ms) / 1000).toFixed(1)} s ${c.clock_skew_ms >= 0 ? 'ahead of' : 'behind'} the host` : NONE);
    const view = [];
    if (typeof c?.host_cpu_percent === 'number') view.push(`vCPU threads ${percent(c.host_cpu_percent)}`);
    if (typeof c?.host_memory_usage_percent === 'number') view.push(`balloon ${percent(c.host_memory_usage_percent)} memory`);
    setText(hostView, view.length ? view.join(' · ') : NONE);
    stale.hidden = !sample?.stale;
    setText(stale, sample?.stale
      ? `Stale: no fresh CPU or memory figures for over three poll intervals (the guest agent last answered: ${sample.guest_agent?.last_success_ms ? time(sample.guest_agent.last_success_ms) : 'never'}).`
      : '');
    fillDetails(details, vm);
  };

  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/', text: 'Fleet' }), ' › ', h('a', { href: '#/vms', text: 'All VMs' })),
    h('div', { class: 'page-head' }, title, pill, reason),
    h('p', { class: 'vm-id' }, 'ID ', h('code', { text: vm.id }),
      vm.host_id ? [' · on host agent ', h('a', { href: listHash({ host: vm.host_id }), class: 'host-link', text: vm.host_id }),
        ' as ', h('code', { text: vm.host_vm_id })] : null),
    vm.labels ? h('p', { class: 'chips vm-labels', 'aria-label': 'Labels' }, ...labelChips(vm.labels)) : null,
    stale,
    h('div', { class: 'summary' },
      h('dl', { class: 'facts' }, h('dt', { text: 'Last sample' }), lastSample, h('dt', { text: 'Uptime' }), uptime,
        h('dt', { text: 'Guest clock' }), skew, h('dt', { text: "Host's view" }), hostView),
      may('register') ? guestForm(vm, (updated) => { vm = updated; render(); }) : null),
    tabs([
      { key: 'metrics', label: 'Metrics', panel: metrics.el },
      { key: 'events', label: 'Events', panel: events.el },
      { key: 'details', label: 'Details', panel: details },
    ]),
  );
  render();
  const ticker = setInterval(render, 1000);
  let streamed = 0; // when the stream last brought a sample
  const take = (s) => {
    if (!s || (sample && s.timestamp_ms <= sample.timestamp_ms)) return;
    sample = s;
    render();
    metrics.live(s);
  };
  const live = stream(`${vmPath(id)}/metrics/ws`, (s) => { streamed = Date.now(); take(s); },
    setConnection, (e) => events.add(e));
  // A VM another manager sharing the database collects has no samples on
  // this manager's stream: its latest comes through the API, which asks
  // that manager, once a second while the stream is silent.
  const poll = setInterval(() => {
    if (Date.now() - streamed > POLL_AFTER_MS) call('GET', `${vmPath(id)}/metrics`).then(take, () => {});
  }, 1000);
  events.start();
  await metrics.start();
  call('GET', `${vmPath(id)}/metrics`).then((s) => {
    if (!sample) { sample = s; render(); metrics.live(s); }
  }).catch(() => {});
  return { close() { live.close(); clearInterval(ticker); clearInterval(poll); metrics.close(); events.close(); } };
}

/** guestForm sets the guest agent's address (POST /v1/vms/{id}/guest-ip). */
function guestForm(vm, onDone) {
  const ip = field('guest-ip', 'Guest IP', 'guest_ip', { value: vm.guest_ip || '', required: true,
    autocomplete: 'off', spellcheck: 'false', placeholder: '192.168.1.100' });
  const port = field('guest-port', 'Port', 'guest_port', { type: 'number', min: 1, max: 65535, value: vm.guest_port || '' });
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const ok = h('p', { class: 'form-ok', role: 'status' });
  const button = h('button', { type: 'submit', class: 'primary', text: 'Set address' });
  const form = h('form', { class: 'inline-form', 'aria-labelledby': 'guest-title', novalidate: true },
    h('h2', { id: 'guest-title', text: 'Guest agent address' }),
    h('div', { class: 'row' }, ip.wrap, port.wrap, h('div', { class: 'actions' }, button)), formError, ok);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors([ip, port], formError);
    ok.textContent = '';
    button.disabled = true;
    try {
      const updated = await call('POST', `${vmPath(vm.id)}/guest-ip`, values([ip, port]));
      ok.textContent = `Polling the guest agent at ${updated.guest_ip}:${updated.guest_port}.`;
      onDone(updated);
    } catch (err) {
      placeError([ip, port], err, formError);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** tabs builds a keyboard-usable tab list (arrow keys, Home, End). */
function tabs(list) {
  const buttons = list.map((t, i) => h('button', {
    type: 'button', role: 'tab', id: `tab-${t.key}`, 'aria-controls': `panel-${t.key}`,
    'aria-selected': i === 0 ? 'true' : 'false', tabindex: i === 0 ? '0' : '-1', text: t.label,
  }));
  const panels = list.map((t, i) => h('div', { role: 'tabpanel', id: `panel-${t.key}`,
    'aria-labelledby': `tab-${t.key}`, hidden: i !== 0 }, t.panel));
  const select = (i) => {
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
      panels[j].hidden = i !== j;
    });
    buttons[i].focus();
  };
  buttons.forEach((b, i) => {
    b.addEventListener('click', () => select(i));
    b.addEventListener('keydown', (ev) => {
      const n = buttons.length;
      const to = { ArrowRight: (i + 1) % n, ArrowLeft: (i + n - 1) % n, Home: 0, End: n - 1 }[ev.key];
      if (to !== undefined) { ev.preventDefault(); select(to); }
    });
  });
  return h('div', { class: 'tabs' }, h('div', { role: 'tablist', 'aria-label': 'VM views' }, ...buttons), ...panels);
}

function fillDetails(dl, vm) {
  const rows = [
    ['Name', vm.name], ['ID', vm.id], ['Guest agent', vm.guest_ip ? `${vm.guest_ip}:${vm.guest_port}` : 'not set'],
    ['Host agent', vm.host_agent_url || 'none'], ['VMM pid', vm.vmm_pid || 'none'],
    ['Metrics FIFO', vm.metrics_fifo || 'none'], ['API socket', vm.api_socket || 'none'],
    ['Registered', time(vm.created_ms)], ['Updated', time(vm.updated_ms)],
  ];
  if (vm.host_id) {
    rows.splice(3, 0, ['Found by host agent', vm.host_id], ['Firecracker id', vm.host_vm_id]);
    if (vm.gone_ms) rows.push(['Gone', time(vm.gone_ms)]);
  }
  const text = rows.map((r) => r.join('=')).join('\n');
  if (dl.shown === text) return;
  dl.shown = text;
  dl.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: String(v) })]));
}
