// Form helpers: labelled inputs with an error line beside each, and the
// API's 400 messages placed beside the field they name.

import { h } from './dom.js';

/**
 * field builds a labelled input with an error line beside it; the error
 * is announced (role=alert) and tied to the input (aria-describedby).
 * api is the JSON field the input fills, whose errors it shows.
 */
export function field(id, label, api, inputAttrs = {}, hint = '') {
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', { id, name: api, ...inputAttrs,
    'aria-describedby': [hintId, errorId].filter(Boolean).join(' ') });
  const error = h('p', { id: errorId, class: 'field-error', role: 'alert' });
  const wrap = h('div', { class: 'field' },
    h('label', { for: id, text: label }), input,
    hint && h('p', { id: hintId, class: 'hint', text: hint }), error);
  return { api, wrap, input, error };
}

/** showError puts msg beside the field (an empty msg clears it). */
export function showError(f, msg) {
  f.error.textContent = msg;
  if (msg) f.input.setAttribute('aria-invalid', 'true');
  else f.input.removeAttribute('aria-invalid');
}

/**
 * placeError shows err's message beside the field whose JSON name starts
 * the message (the API words its 400s so: `guest_ip "x" is not ...`), or
 * in formError when no field matches. It focuses the field.
 */
export function placeError(fields, err, formError) {
  for (const f of fields) showError(f, '');
  formError.textContent = '';
  const msg = err.message || String(err);
  const f = fields.find((x) => msg.startsWith(`${x.api} `) || msg.startsWith(`${x.api}:`));
  if (f) {
    showError(f, msg);
    f.input.focus();
  } else {
    formError.textContent = msg;
  }
}

/** clearErrors empties every error line. */
export function clearErrors(fields, formError) {
  for (const f of fields) showError(f, '');
  formError.textContent = '';
}

/**
 * values collects the fields' values as a JSON body: empty inputs are left
 * out, number inputs become numbers (the API then checks them).
 */
export function values(fields) {
  const body = {};
  for (const f of fields) {
    const v = f.input.value.trim();
    if (v === '') continue;
    body[f.api] = f.input.type === 'number' && /^-?\d+$/.test(v) ? Number(v) : v;
  }
  return body;
}
