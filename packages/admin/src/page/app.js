// Gatehouse admin page: the tier's sessions and load, live from the feed
// (docs/admin-feed.md), with kick. Plain JavaScript, no dependencies, no build step.
// Every value from the server is written with textContent, never as HTML.
'use strict';

const TOKEN_KEY = 'gatehouse.adminToken';
const FEED_PROTOCOL = 'gatehouse-feed.v1';
const TOKEN_PROTOCOL_PREFIX = 'base64url.bearer.gatehouse.';
/** The charts show this much history. */
const WINDOW_MS = 10 * 60_000;
const MAX_EVENTS_SHOWN = 50;
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  ws: null,
  retryMs: 500,
  /** id → session record */
  sessions: new Map(),
  /** node → last load event (or node status from the snapshot) */
  nodes: new Map(),
  /** [{ t, node, sessions, backends: Map }] load samples, oldest first */
  load: [],
  sortKey: 'since',
  sortDir: 1,
  filter: '',
  kickTarget: null,
  truncated: false,
  renderQueued: false,
};

// ---- token --------------------------------------------------------------------------

function showLogin(message) {
  $('main').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('token').focus();
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  state.token = $('token').value;
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('token').value = '';
  restart();
});

$('logout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  if (state.ws) state.ws.close(1000, 'logout');
  showLogin('');
});

function authHeaders() {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// ---- feed ---------------------------------------------------------------------------

function restart() {
  start().catch(() => showLogin(''));
}

async function start() {
  // One API call first: it tells a wrong token (401) apart from a network problem,
  // which the WebSocket API cannot.
  let res;
  try {
    res = await fetch('api/v1/nodes', { headers: authHeaders(), cache: 'no-store' });
  } catch {
    setStatus('off', 'admin listener unreachable, retrying');
    setTimeout(restart, 2000);
    return;
  }
  if (res.status === 401) {
    showLogin(state.token ? 'That token was refused.' : 'This listener needs a token.');
    return;
  }
  $('login').hidden = true;
  $('main').hidden = false;
  $('logout').hidden = !state.token;
  connect();
}

function connect() {
  const url = new URL('api/v1/feed', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const protocols = [FEED_PROTOCOL];
  if (state.token) protocols.push(TOKEN_PROTOCOL_PREFIX + base64url(state.token));
  const ws = new WebSocket(url, protocols);
  state.ws = ws;
  setStatus('wait', 'connecting…');
  ws.addEventListener('message', (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    onMessage(msg);
  });
  ws.addEventListener('close', (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    if (ev.code === 1000 && ev.reason === 'logout') return;
    setStatus('off', `disconnected${ev.reason ? ` (${ev.reason})` : ''}, reconnecting`);
    const delay = state.retryMs;
    state.retryMs = Math.min(state.retryMs * 2, 15_000);
    setTimeout(restart, delay);
  });
}

function onMessage(msg) {
  switch (msg.type) {
    case 'snapshot':
      state.retryMs = 500;
      state.sessions = new Map(msg.sessions.map((s) => [s.id, s]));
      state.nodes = new Map(msg.nodes.map((n) => [n.node, { ...n, backends: [] }]));
      state.load = [];
      for (const l of msg.load) addLoad(l);
      state.truncated = msg.truncated;
      setStatus('on', '');
      logEvent(msg.at, 'snapshot', `${msg.total} sessions, ${msg.nodes.length} nodes`);
      break;
    case 'connect':
      logEvent(msg.at, 'connect', `${msg.remoteAddress} on ${msg.node} (${msg.protocol}, ${msg.vserver})`);
      break;
    case 'login':
      state.sessions.set(msg.session.id, msg.session);
      logEvent(msg.at, 'login', `${msg.session.user} from ${msg.session.remoteAddress} on ${msg.session.node} (${msg.session.protocol})`);
      break;
    case 'logout':
      state.sessions.delete(msg.id);
      logEvent(msg.at, 'logout', `${msg.user} on ${msg.node}: ${msg.reason}`);
      break;
    case 'kick':
      logEvent(msg.at, 'kick', `${msg.user} (${msg.id}) on ${msg.node}`);
      break;
    case 'load':
      addLoad(msg);
      break;
    case 'unavailable':
      setStatus('off', 'directory unreachable: waiting for a new snapshot');
      logEvent(msg.at, 'unavailable', msg.error ? msg.error.code : '');
      break;
    default:
      return;
  }
  scheduleRender();
}

function addLoad(l) {
  state.nodes.set(l.node, l);
  state.load.push({ t: Date.parse(l.at), node: l.node, sessions: l.sessions, backends: new Map(l.backends.map((b) => [b.backend, b.sessions])) });
  const oldest = Date.now() - WINDOW_MS;
  while (state.load.length > 0 && state.load[0].t < oldest) state.load.shift();
}

function setStatus(kind, text) {
  const el = $('status');
  el.className = `status ${kind}`;
  el.textContent = text;
}

function logEvent(at, kind, text) {
  const li = document.createElement('li');
  li.className = `ev-${kind}`;
  const time = document.createElement('time');
  time.textContent = new Date(at).toLocaleTimeString();
  const k = document.createElement('b');
  k.textContent = kind;
  li.append(time, ' ', k, ' ', text);
  const list = $('events');
  list.prepend(li);
  while (list.children.length > MAX_EVENTS_SHOWN) list.lastChild.remove();
}

// ---- table --------------------------------------------------------------------------

function scheduleRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  requestAnimationFrame(() => {
    state.renderQueued = false;
    render();
  });
}

function render() {
  if ($('status').classList.contains('on')) {
    setStatus('on', `live · ${plural(state.sessions.size, 'session')} on ${plural(state.nodes.size, 'node')}${state.truncated ? ' (list truncated)' : ''}`);
  }
  renderSessions();
  renderNodes();
  renderCharts();
}

function renderSessions() {
  const f = state.filter.toLowerCase();
  const rows = [...state.sessions.values()].filter(
    (s) => f === '' || [s.user, s.remoteAddress, s.node, s.backend, s.vserver, s.protocol, s.state].some((v) => String(v).toLowerCase().includes(f)),
  );
  const k = state.sortKey;
  rows.sort((a, b) => (a[k] < b[k] ? -1 : a[k] > b[k] ? 1 : a.id < b.id ? -1 : 1) * state.sortDir);
  const tbody = $('sessions').tBodies[0];
  const frag = document.createDocumentFragment();
  for (const s of rows) {
    const tr = document.createElement('tr');
    tr.dataset.id = s.id;
    tr.dataset.user = s.user;
    const cells = [s.user, `${s.remoteAddress}:${s.remotePort}`, s.protocol, s.tls, s.vserver, s.node, s.backend, new Date(s.since).toLocaleTimeString(), s.state];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c;
      tr.append(td);
    }
    tr.children[7].title = s.since;
    const td = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'kick danger';
    button.textContent = 'Kick';
    button.addEventListener('click', () => askKick(s));
    td.append(button);
    tr.append(td);
    frag.append(tr);
  }
  tbody.replaceChildren(frag);
  $('count').textContent = rows.length === state.sessions.size ? String(rows.length) : `${rows.length} of ${state.sessions.size}`;
  $('empty').hidden = rows.length > 0;
  for (const th of $('sessions').tHead.rows[0].cells) {
    if (!th.dataset.key) continue;
    th.setAttribute('aria-sort', th.dataset.key === k ? (state.sortDir > 0 ? 'ascending' : 'descending') : 'none');
  }
}

$('filter').addEventListener('input', (ev) => {
  state.filter = ev.target.value;
  scheduleRender();
});

for (const th of $('sessions').tHead.rows[0].cells) {
  if (!th.dataset.key) continue;
  th.tabIndex = 0;
  const sort = () => {
    if (state.sortKey === th.dataset.key) state.sortDir = -state.sortDir;
    else {
      state.sortKey = th.dataset.key;
      state.sortDir = 1;
    }
    scheduleRender();
  };
  th.addEventListener('click', sort);
  th.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') sort();
  });
}

// ---- kick ---------------------------------------------------------------------------

function askKick(s) {
  state.kickTarget = s;
  $('confirm-text').textContent = `End the ${s.protocol.toUpperCase()} session of ${s.user} from ${s.remoteAddress}:${s.remotePort} on ${s.node}?`;
  $('confirm').showModal();
}

$('confirm-cancel').addEventListener('click', () => {
  state.kickTarget = null;
  $('confirm').close();
});

$('confirm-kick').addEventListener('click', () => {
  const s = state.kickTarget;
  state.kickTarget = null;
  $('confirm').close();
  if (s) void kick(s);
});

async function kick(s) {
  const res = await fetch(`api/v1/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE', headers: authHeaders() }).catch(() => null);
  if (res === null || res.status !== 202) {
    logEvent(new Date().toISOString(), 'error', `kick of ${s.user} failed (${res ? res.status : 'network'})`);
    scheduleRender();
  }
}

// ---- load ---------------------------------------------------------------------------

function renderNodes() {
  const box = $('nodes');
  const frag = document.createDocumentFragment();
  for (const n of [...state.nodes.values()].sort((a, b) => (a.node < b.node ? -1 : 1))) {
    const card = document.createElement('div');
    card.className = 'node';
    const name = document.createElement('b');
    name.textContent = n.node;
    const figures = document.createElement('span');
    figures.textContent = `${plural(n.sessions, 'session')} · ${n.loginsPerSec ?? 0} logins/s · ${fmtBytes(n.bytesInPerSec ?? 0)}/s in · ${fmtBytes(n.bytesOutPerSec ?? 0)}/s out`;
    card.append(name, figures);
    frag.append(card);
  }
  box.replaceChildren(frag);
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function renderCharts() {
  const now = Date.now();
  // Per node: its own samples. Per back-end: at each sample, the sum over nodes of each
  // node's latest figures.
  const perNode = new Map();
  const perBackend = new Map();
  const latest = new Map();
  for (const p of state.load) {
    if (!perNode.has(p.node)) perNode.set(p.node, []);
    perNode.get(p.node).push([p.t, p.sessions]);
    latest.set(p.node, p.backends);
    const totals = new Map();
    for (const backends of latest.values()) for (const [b, n] of backends) totals.set(b, (totals.get(b) || 0) + n);
    for (const b of totals.keys()) if (!perBackend.has(b)) perBackend.set(b, []);
    for (const [b, pts] of perBackend) pts.push([p.t, totals.get(b) || 0]);
  }
  drawChart($('chart-nodes'), $('legend-nodes'), perNode, now);
  drawChart($('chart-backends'), $('legend-backends'), perBackend, now);
}

const SVG = 'http://www.w3.org/2000/svg';

function drawChart(svg, legend, series, now) {
  const W = 600;
  const H = 160;
  const pad = { l: 34, r: 8, t: 8, b: 18 };
  let max = 2;
  for (const pts of series.values()) for (const [, v] of pts) max = Math.max(max, v);
  max = niceMax(max);
  const x = (t) => pad.l + ((t - (now - WINDOW_MS)) / WINDOW_MS) * (W - pad.l - pad.r);
  const y = (v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  const el = (name, attrs, text) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const parts = [];
  for (const v of [0, max / 2, max]) {
    parts.push(el('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'grid' }));
    parts.push(el('text', { x: pad.l - 4, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, String(Math.round(v))));
  }
  for (let m = 0; m <= 10; m += 2) parts.push(el('text', { x: x(now - m * 60_000), y: H - 4, class: 'axis', 'text-anchor': 'middle' }, m === 0 ? 'now' : `-${m}m`));
  const legendItems = [];
  let i = 0;
  for (const [name, pts] of [...series].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const color = COLORS[i++ % COLORS.length];
    const visible = pts.filter(([t]) => t >= now - WINDOW_MS);
    if (visible.length > 0) {
      // Steps: a figure holds until the next sample.
      let d = '';
      let prev = null;
      for (const [t, v] of visible) {
        if (prev === null) d = `M${x(t).toFixed(1)},${y(v).toFixed(1)}`;
        else if (v !== prev) d += `H${x(t).toFixed(1)}V${y(v).toFixed(1)}`;
        prev = v;
      }
      d += `H${x(now).toFixed(1)}`;
      parts.push(el('path', { d, class: 'series', stroke: color }));
    }
    const item = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.style.background = color;
    const last = pts.length > 0 ? pts[pts.length - 1][1] : 0;
    item.append(swatch, `${name} (${last})`);
    legendItems.push(item);
  }
  svg.replaceChildren(...parts);
  legend.replaceChildren(...legendItems);
}

function niceMax(v) {
  for (const step of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]) if (v <= step) return step;
  return Math.ceil(v / 10000) * 10000;
}

// Redraw the charts' time axis even when nothing happens.
setInterval(() => {
  if (!$('main').hidden) renderCharts();
}, 5000);

restart();
