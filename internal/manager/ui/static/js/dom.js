// Building DOM nodes without HTML strings: every server-provided value
// ends up in a text node or an attribute, never parsed as markup.

/**
 * h creates an element. attrs: "class", "text" (textContent), "dataset"
 * (an object), "on<event>" (a listener), anything else an attribute
 * (skipped when null, undefined or false). Children are nodes or strings
 * (text nodes); null and false children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** setText changes a node's text only when it differs (no needless layout). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * rendered counts a view's renders on #main (data-renders), across views:
 * the browser tests wait on it, and a person debugging can watch it.
 */
export function rendered() {
  const main = document.getElementById('main');
  if (main) main.dataset.renders = String(Number(main.dataset.renders || 0) + 1);
}
