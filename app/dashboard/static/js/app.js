// The single-page app: a path router over /ui/..., the API key dialog, and toasts.

import { api, getKey, setKey } from './api.js';
import { errorBox } from './widgets.js';
import { h } from './dom.js';
import { campaignsPage } from './pages/campaigns.js';
import { campaignPage } from './pages/campaign.js';
import { nodePage } from './pages/node.js';
import { knowledgePage } from './pages/knowledge.js';
import { schedulesPage } from './pages/schedules.js';

const ROUTES = [
  [/^\/ui\/?$/, 'campaigns', () => campaignsPage],
  [/^\/ui\/campaigns\/?$/, 'campaigns', () => campaignsPage],
  [/^\/ui\/campaigns\/([A-Za-z0-9_-]+)\/?$/, 'campaigns', (m) => (ctx) => campaignPage(ctx, m[1])],
  [/^\/ui\/campaigns\/([A-Za-z0-9_-]+)\/nodes\/(\d+)\/?$/, 'campaigns', (m) => (ctx) => nodePage(ctx, m[1], Number(m[2]))],
  [/^\/ui\/knowledge\/?$/, 'knowledge', () => (ctx) => knowledgePage(ctx, null)],
  [/^\/ui\/knowledge\/([a-z0-9-]+)\/?$/, 'knowledge', (m) => (ctx) => knowledgePage(ctx, m[1])],
  [/^\/ui\/schedules\/?$/, 'schedules', () => schedulesPage],
];

const main = document.getElementById('main');
let dispose = null;
let generation = 0;

export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

async function render() {
  generation += 1;
  const mine = generation;
  if (dispose) { try { dispose(); } catch { /* a page's cleanup must not block the next */ } }
  dispose = null;
  const path = location.pathname;
  let page = null;
  let section = '';
  for (const [re, nav, make] of ROUTES) {
    const m = re.exec(path);
    if (m) { page = make(m); section = nav; break; }
  }
  document.querySelectorAll('[data-nav]').forEach((a) => a.classList.toggle('active', a.dataset.nav === section));
  main.replaceChildren();
  if (!page) {
    main.append(h('div', { class: 'pad' }, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '/ui/', 'data-link': true }, 'Back to the campaigns'))));
    return;
  }
  const ctx = {
    main, navigate, toast,
    alive: () => mine === generation,
    setTitle: (t) => { document.title = t ? `${t} · agentic-sciml` : 'agentic-sciml'; },
  };
  try {
    dispose = (await page(ctx)) || null;
    if (mine !== generation && dispose) { dispose(); dispose = null; }
  } catch (err) {
    if (mine !== generation) return;
    main.replaceChildren(errorBox(err));
  }
}

// -- the API key ---------------------------------------------------------------------------------------------
let dialogOpen = false;

function keyDialog(reason) {
  if (dialogOpen) return;
  dialogOpen = true;
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', placeholder: 'asml_…', value: getKey(), required: true });
  const status = h('p', { class: 'muted' }, reason || 'Keys come from `agentic-sciml keys create`. It is kept in this browser only.');
  const close = () => { overlay.remove(); dialogOpen = false; };
  const form = h('form', { class: 'dialog', onsubmit: async (ev) => {
    ev.preventDefault();
    setKey(input.value);
    try {
      const me = await api('/me');
      close();
      showIdentity(me);
      toast(`Signed in as ${me.username}`);
      render();
    } catch (err) {
      status.textContent = err.status === 401 ? 'That key was refused (invalid, revoked or expired).' : err.message;
      status.className = 'err';
    }
  } },
  h('h2', {}, 'API key'), status, input,
  h('div', { class: 'row end' },
    h('button', { type: 'button', class: 'btn', onclick: () => { setKey(''); close(); showIdentity(null); render(); } }, 'Forget key'),
    h('button', { type: 'button', class: 'btn', onclick: close }, 'Cancel'),
    h('button', { type: 'submit', class: 'btn primary' }, 'Use this key')));
  const overlay = h('div', { class: 'overlay', onclick: (ev) => { if (ev.target === overlay) close(); } }, form);
  document.body.append(overlay);
  input.focus();
}

function showIdentity(me) {
  const el = document.getElementById('identity');
  if (!me) { el.textContent = getKey() ? 'key…' : 'sign in'; el.title = 'API key'; return; }
  el.textContent = me.auth_enabled ? `${me.username}${me.scopes.includes('write') ? '' : ' (read-only)'}` : 'no auth (local)';
  el.title = me.auth_enabled ? `key ${me.key_prefix} · ${me.scopes.join(', ')}${me.is_admin ? ' · admin' : ''}` : 'This server runs without API keys (embedded mode).';
  el.dataset.auth = me.auth_enabled ? 'on' : 'off';
}

window.addEventListener('auth-required', () => keyDialog(getKey() ? 'The stored key was refused; enter another.' : null));
document.getElementById('identity').addEventListener('click', () => {
  if (document.getElementById('identity').dataset.auth === 'off') { toast('This server runs without API keys.'); return; }
  keyDialog();
});

document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a[data-link]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', render);

// Pages publish what tests and benchmarks read (e.g. the campaign page's tree and timings) here.
window.__dashboard = { navigate };
api('/me').then(showIdentity).catch(() => showIdentity(null));
render();
