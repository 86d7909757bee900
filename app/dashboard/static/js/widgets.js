// Pieces several pages share: error notices, stat tiles, one agent message, collapsible long text.

import { ApiError } from './api.js';
import { h, link } from './dom.js';
import { fmtTime, roleBadge } from './format.js';

export function errorBox(err) {
  const status = err instanceof ApiError ? err.status : 0;
  const text = status === 401 ? 'This server needs an API key: set one with the key button at the top right.'
    : status === 404 ? `Not found: ${err.message}` : `Could not load this page: ${err.message || err}`;
  return h('div', { class: 'pad' }, h('div', { class: `notice ${status === 401 ? 'warn' : 'error'}` }, text));
}

export function stat(label, value, { title, cls } = {}) {
  return h('div', { class: `stat ${cls || ''}`, title }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label));
}

const LONG = 700;

export function longText(text, { limit = LONG } = {}) {
  const body = h('div', { class: 'msg-text' });
  if (!text || text.length <= limit) {
    body.textContent = text || '';
    return body;
  }
  body.textContent = `${text.slice(0, limit)}…`;
  const more = h('button', { type: 'button', class: 'link-btn' }, 'show all');
  more.addEventListener('click', () => {
    const open = more.textContent === 'show all';
    body.textContent = open ? text : `${text.slice(0, limit)}…`;
    body.append(more);
    more.textContent = open ? 'show less' : 'show all';
  });
  body.append(' ', more);
  return body;
}

// m: a MessageOut (or the payload of a live `message` event, normalised to the same fields).
export function messageItem(m, campaignId, { showNode = true } = {}) {
  const round = m.payload && m.payload.round != null ? m.payload.round : m.round;
  return h('article', { class: `msg role-${m.role}`, dataset: { id: String(m.id) } },
    h('header', { class: 'msg-head' },
      roleBadge(m.role),
      m.model ? h('span', { class: 'model', title: 'model' }, m.model) : h('span', { class: 'model muted' }, 'no model'),
      m.kind ? h('span', { class: 'kind' }, m.kind) : null,
      round != null ? h('span', { class: 'kind' }, `round ${round}`) : null,
      showNode && m.node_id ? link(`/ui/campaigns/${campaignId}/nodes/${m.node_id}`, `#${m.node_id}`) : null,
      m.iteration != null ? h('span', { class: 'muted' }, `it ${m.iteration}`) : null,
      (m.tokens_in || m.tokens_out) ? h('span', { class: 'muted', title: 'tokens in / out' }, `${m.tokens_in}/${m.tokens_out} tok`) : null,
      h('time', { class: 'muted', datetime: m.created_at }, fmtTime(m.created_at))),
    longText(m.text));
}

export function jsonBlock(value) {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}
