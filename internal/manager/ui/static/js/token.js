// The token prompt: a modal dialog opened on the first 401, which checks
// the token against the manager before keeping it in sessionStorage.

import { send, setToken } from './api.js';

let pending = null;

/**
 * askToken opens the dialog (once, however many requests are waiting) and
 * resolves when the manager accepted a token. reason is the API's 401
 * message, shown when a token had been kept already.
 */
export function askToken(reason) {
  pending ??= new Promise((resolve) => open(reason, () => { pending = null; resolve(); }));
  return pending;
}

function open(reason, done) {
  const dialog = document.getElementById('token-dialog');
  const form = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  const error = document.getElementById('token-error');
  const button = form.querySelector('button');
  const hadToken = Boolean(sessionStorage.getItem('fcmon.token'));
  setToken('');
  error.textContent = hadToken ? `The kept token no longer works: ${reason || 'the manager refused it'}` : '';
  input.value = '';

  const cancel = (ev) => ev.preventDefault(); // nothing works without a token
  const submit = async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) {
      fail('Enter the API token.');
      return;
    }
    button.disabled = true;
    error.textContent = '';
    try {
      // One row is enough to try the token (the whole list can be megabytes).
      const res = await send('GET', '/v1/vms?limit=1', undefined, token);
      if (res.status === 401) {
        fail('The manager refused this token (401). Check --api-token, MANAGER_API_TOKEN or --tokens-file.');
        return;
      }
      if (!res.ok) {
        fail(`The manager answered ${res.status} ${res.statusText}; try again.`);
        return;
      }
    } catch (err) {
      fail(`The manager cannot be reached: ${err.message}`);
      return;
    } finally {
      button.disabled = false;
    }
    // The token's role: the page then offers only what it may do.
    let role = 'read';
    try {
      const who = await send('GET', '/v1/whoami', undefined, token);
      if (who.ok) role = (await who.json()).role || 'read';
    } catch { /* keep the narrowest */ }
    setToken(token, role);
    form.removeEventListener('submit', submit);
    dialog.removeEventListener('cancel', cancel);
    dialog.close();
    done();
  };
  const fail = (msg) => {
    error.textContent = msg;
    input.setAttribute('aria-invalid', 'true');
    input.select();
  };

  form.addEventListener('submit', submit);
  dialog.addEventListener('cancel', cancel);
  dialog.showModal();
  input.focus();
}
