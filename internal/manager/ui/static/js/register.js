// The form that registers a VM (POST /v1/vms), with the API's error
// beside the field it concerns.

import { call } from './api.js';
import { h } from './dom.js';
import { clearErrors, field, placeError, values } from './forms.js';

/** registerForm returns the form's section; onDone runs after a success. */
export function registerForm(onDone) {
  const fields = [
    field('reg-name', 'Name', 'name', { required: true, autocomplete: 'off', maxlength: 200 }),
    field('reg-guest-ip', 'Guest IP', 'guest_ip', { autocomplete: 'off', spellcheck: 'false', placeholder: '192.168.1.100' },
      'Where the guest agent listens; optional.'),
    field('reg-guest-port', 'Guest port', 'guest_port', { type: 'number', min: 1, max: 65535, placeholder: '8080' }),
    field('reg-host-agent', 'Host agent URL', 'host_agent_url', { type: 'url', autocomplete: 'off', placeholder: 'http://10.0.0.1:9091' },
      'For the host fallback and Firecracker\u2019s network and disk rates.'),
    field('reg-pid', 'VMM pid', 'vmm_pid', { type: 'number', min: 1 }),
    field('reg-fifo', 'Metrics FIFO', 'metrics_fifo', { autocomplete: 'off', spellcheck: 'false', placeholder: '/run/fc/vm1/metrics.fifo' }),
    field('reg-socket', 'API socket', 'api_socket', { autocomplete: 'off', spellcheck: 'false', placeholder: '/run/fc/vm1/api.sock' }),
  ];
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const result = h('p', { class: 'form-ok', role: 'status' });
  const button = h('button', { type: 'submit', class: 'primary', text: 'Register' });

  const form = h('form', { class: 'grid-form', 'aria-labelledby': 'register-title', novalidate: true },
    ...fields.map((f) => f.wrap),
    h('div', { class: 'actions' }, button, formError, result));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(fields, formError);
    result.textContent = '';
    button.disabled = true;
    try {
      const vm = await call('POST', '/v1/vms', values(fields));
      const attach = vm.host_agent;
      result.textContent = `Registered ${vm.name} (${vm.id})` +
        (attach ? (attach.error ? `; the host agent did not attach it yet: ${attach.error}` : '; attached at its host agent') : '') + '.';
      form.reset();
      onDone(vm);
    } catch (err) {
      placeError(fields, err, formError);
    } finally {
      button.disabled = false;
    }
  });

  return h('section', { class: 'card register' },
    h('h2', { id: 'register-title', text: 'Register a VM' }), form);
}
