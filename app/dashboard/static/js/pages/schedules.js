// Schedules: scheduled batch runs and their last results, from GET /v1/schedules when the server has it.

import { api } from '../api.js';
import { h, panel, empty } from '../dom.js';
import { fmtWhen, statusBadge } from '../format.js';
import { errorBox } from '../widgets.js';

export async function schedulesPage(ctx) {
  ctx.setTitle('Schedules');
  const box = h('div', { id: 'schedules' }, h('p', { class: 'muted' }, 'Loading…'));
  ctx.main.append(h('div', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', {}, 'Scheduled batch runs')), panel('Schedules', box)));
  let items;
  try {
    const r = await api('/schedules');
    items = Array.isArray(r) ? r : (r && Array.isArray(r.items) ? r.items : []);
  } catch (err) {
    box.replaceChildren(err.status === 404 || err.status === 405
      ? h('div', { class: 'notice warn', id: 'schedules-unavailable' }, 'Scheduling is not available on this server.')
      : errorBox(err));
    return null;
  }
  if (!items.length) { box.replaceChildren(empty('No schedules.')); return null; }
  box.replaceChildren(h('table', { class: 'grid-table' },
    h('thead', {}, h('tr', {}, ['name', 'when', 'next run', 'state', 'last run', 'result'].map((t) => h('th', {}, t)))),
    h('tbody', {}, items.map((s) => {
      const last = s.last_run || null;
      return h('tr', { dataset: { id: String(s.id) } },
        h('td', { 'data-label': 'name' }, s.name || String(s.id)),
        h('td', { 'data-label': 'when' }, h('code', {}, s.cron || ''), h('div', { class: 'muted small' }, s.timezone || '')),
        h('td', { 'data-label': 'next run' }, s.paused ? '—' : fmtWhen(s.next_run_at)),
        h('td', { 'data-label': 'state' }, statusBadge(s.paused ? 'paused' : 'active')),
        h('td', { 'data-label': 'last run' }, last ? fmtWhen(last.started_at) : 'never'),
        h('td', { 'data-label': 'result' }, last ? h('div', {}, last.status ? statusBadge(String(last.status)) : null, ' ', summaryText(last.summary)) : ''));
    }))));
  return null;
}

function summaryText(summary) {
  if (summary === null || summary === undefined) return '';
  if (typeof summary === 'string') return summary;
  return Object.entries(summary).slice(0, 6).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · ');
}
