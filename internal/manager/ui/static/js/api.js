// The manager's API, from its own origin only: JSON over fetch with the
// bearer token when there is one, and WebSocket streams that offer the
// token as the "bearer.<token>" subprotocol next to "fcmon.v1".

const TOKEN_KEY = 'fcmon.token';

/** APIError carries the API's {"error": "..."} message and the status. */
export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token, role = '') {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  if (role) sessionStorage.setItem(ROLE_KEY, role);
  else sessionStorage.removeItem(ROLE_KEY);
}

const ROLE_KEY = 'fcmon.role';

/**
 * may reports whether the kept token's role allows a call needing need
 * ('admin' or 'register'); without a token (an open manager) all is
 * allowed. The page offers only what the token may do.
 */
export function may(need) {
  const role = sessionStorage.getItem(ROLE_KEY);
  if (!role || role === 'admin') return true;
  return need === 'register' && role === 'register';
}

// askToken is called on a 401; it resolves once a working token is set.
let askToken = async () => { throw new APIError(401, 'this manager needs an API token'); };

export function onTokenNeeded(fn) {
  askToken = fn;
}

/** call sends one request; on a 401 it asks for the token and retries. */
export async function call(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const res = await send(method, path, body, getToken());
    if (res.status === 401 && attempt < 3) {
      await askToken((await decode(res)).error);
      continue;
    }
    const data = await decode(res);
    if (!res.ok) throw new APIError(res.status, data.error || `${res.status} ${res.statusText}`);
    return data;
  }
}

/** send is fetch with the token and a JSON body. */
export function send(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(path, {
    method, headers, cache: 'no-store', credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function decode(res) {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { error: `${res.status} ${res.statusText}: the manager did not answer JSON` };
  }
}

/**
 * stream keeps a WebSocket to path open, reconnecting with a growing pause,
 * and calls onSample with every sample, onEvent with every event (a
 * message of kind "event") and onState with "live", "reconnecting" or
 * "closed". It returns { close }.
 */
export function stream(path, onSample, onState = () => {}, onEvent = () => {}) {
  return connect(path, { sample: onSample, event: onEvent }, onState);
}

/**
 * fleetStream is the fleet stream: handlers.fleet gets every fleet
 * summary, handlers.event every event, handlers.sample the samples of the
 * VMs last passed to watch(ids) (sent again after a reconnect). It returns
 * { watch(ids), close() }.
 */
export function fleetStream(handlers, onState = () => {}) {
  let ids = [];
  const conn = connect('/v1/fleet/ws', handlers, onState, () => conn.send({ watch: ids }));
  return {
    watch(next) {
      ids = next.slice(0, 1000);
      conn.send({ watch: ids });
    },
    close: () => conn.close(),
  };
}

/**
 * connect opens path as a WebSocket, reconnecting with a growing pause;
 * each message goes to handlers[kind] (kind "sample" when it has none).
 * onOpen runs after every (re)connect. It returns { send(obj), close() }.
 */
function connect(path, handlers, onState, onOpen = () => {}) {
  let ws = null;
  let closed = false;
  let pause = 500;
  let timer = 0;
  const open = () => {
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
    const token = getToken();
    try {
      ws = new WebSocket(url, token ? ['fcmon.v1', `bearer.${token}`] : ['fcmon.v1']);
    } catch {
      // A token with characters a subprotocol cannot carry goes as ?token=.
      ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`, ['fcmon.v1']);
    }
    ws.onopen = () => { pause = 500; onState('live'); onOpen(); };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      handlers[msg.kind || 'sample']?.(msg);
    };
    ws.onclose = () => {
      if (closed) return;
      onState('reconnecting');
      timer = setTimeout(open, pause);
      pause = Math.min(pause * 2, 10000);
    };
  };
  open();
  return {
    send(obj) {
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
    },
    close() {
      closed = true;
      clearTimeout(timer);
      ws?.close();
      onState('closed');
    },
  };
}

export const vmPath = (id) => `/v1/vms/${encodeURIComponent(id)}`;
