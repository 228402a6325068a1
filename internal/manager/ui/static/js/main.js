// The UI's entry point: a hash router between the VM list (#/) and a VM's
// page (#/vms/<id>), the token prompt on a 401, and the connection status.

import { onTokenNeeded } from './api.js';
import { h } from './dom.js';
import { showList } from './list.js';
import { askToken } from './token.js';
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
  const mine = ++generation;
  current?.close();
  current = null;
  const page = h('div', { class: 'page' });
  main.replaceChildren(page);
  main.setAttribute('aria-busy', 'true');
  const m = location.hash.match(/^#\/vms\/([^/?#]+)/);
  try {
    const view = m ? await showVM(page, decodeURIComponent(m[1]), setConnection) : await showList(page, setConnection);
    if (mine !== generation) view.close(); // the user navigated while it loaded
    else current = view;
  } catch (err) {
    if (mine !== generation) return;
    page.replaceChildren(
      h('div', { class: 'card notice', role: 'alert' },
        h('h1', { text: err.status === 404 ? 'Not found' : 'Something went wrong' }),
        h('p', { text: err.message || String(err) }),
        h('p', {}, h('a', { href: '#/', text: 'Back to all VMs' }))));
  } finally {
    if (mine === generation) main.removeAttribute('aria-busy');
  }
}

onTokenNeeded(askToken);
window.addEventListener('hashchange', () => {
  route();
  main.focus({ preventScroll: true });
});
route();
