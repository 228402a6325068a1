// The UI's entry point: a hash router between the fleet overview (#/),
// the VM list (#/vms?<view>), a VM's page (#/vms/<id>) and the usage page
// (#/usage?<view>), the token
// prompt on a 401, and the connection status.

import { onTokenNeeded } from './api.js';
import { h } from './dom.js';
import { parseList, showList } from './list.js';
import { showOverview } from './overview.js';
import { askToken } from './token.js';
import { parseUsage, showUsage } from './usage.js';
import { showVM } from './vm.js';

const main = document.getElementById('main');
const connection = document.getElementById('connection');
let current = null;
let generation = 0;

const STATES = { live: 'Live', reconnecting: 'Reconnecting…', closed: '' };

function setConnection(state) {
  connection.textContent = STATES[state] ?? '';
  connection.dataset.state = state;
}

async function route() {
  const list = location.hash.match(/^#\/vms(?:\?(.*))?$/);
  const usage = location.hash.match(/^#\/usage(?:\?(.*))?$/);
  markNav(list ? 'vms' : usage ? 'usage' : /^#\/vms\//.test(location.hash) ? '' : 'overview');
  // Another view of the list: the list stays, only its rows change.
  if (list && current?.navigate) {
    current.navigate(parseList(list[1] || '')).catch(() => {});
    return;
  }
  const mine = ++generation;
  current?.close();
  current = null;
  const page = h('div', { class: 'page' });
  main.replaceChildren(page);
  main.setAttribute('aria-busy', 'true');
  const m = location.hash.match(/^#\/vms\/([^/?#]+)/);
  try {
    const view = m ? await showVM(page, decodeURIComponent(m[1]), setConnection)
      : list ? await showList(page, setConnection, parseList(list[1] || ''))
        : usage ? await showUsage(page, setConnection, parseUsage(usage[1] || ''))
        : await showOverview(page, setConnection, location.hash.split('?')[1] || '');
    if (mine !== generation) view.close(); // the user navigated while it loaded
    else current = view;
  } catch (err) {
    if (mine !== generation) return;
    page.replaceChildren(
      h('div', { class: 'card notice', role: 'alert' },
        h('h1', { text: err.status === 404 ? 'Not found' : 'Something went wrong' }),
        h('p', { text: err.message || String(err) }),
        h('p', {}, h('a', { href: '#/vms', text: 'Back to all VMs' }))));
  } finally {
    if (mine === generation) main.removeAttribute('aria-busy');
  }
}

/** markNav marks the current section's link in the header. */
function markNav(which) {
  for (const a of document.querySelectorAll('header nav a')) {
    if (a.dataset.nav === which) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

onTokenNeeded(askToken);
let lastPage = location.hash.split('?')[0];
window.addEventListener('hashchange', () => {
  const page = location.hash.split('?')[0];
  route();
  // Focus moves to the new page, not when the list only changed its view
  // (the search box keeps it while typing).
  if (page !== lastPage) main.focus({ preventScroll: true });
  lastPage = page;
});
route();
