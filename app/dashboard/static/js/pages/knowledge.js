// Knowledge base: search the method cards, read one, and see which campaigns used it with what effect.

import { api } from '../api.js';
import { h, link, panel, empty } from '../dom.js';
import { markdown, stripFrontMatter } from '../markdown.js';
import { fmtFactor, fmtScore, statusBadge } from '../format.js';
import { errorBox, jsonBlock } from '../widgets.js';

export async function knowledgePage(ctx, cardId) {
  return cardId ? cardPage(ctx, cardId) : listPage(ctx);
}

async function listPage(ctx) {
  ctx.setTitle('Knowledge base');
  const params = new URLSearchParams(location.search);
  const q = h('input', { type: 'search', name: 'q', value: params.get('q') || '', placeholder: 'Describe the situation: e.g. sharp front, loss plateau, spectral bias…', 'aria-label': 'search' });
  const kind = h('select', { name: 'kind', 'aria-label': 'kind' }, ['', 'pinn', 'regression', 'operator'].map((v) => h('option', { value: v }, v || 'any kind')));
  kind.value = params.get('kind') || '';
  const results = h('div', { id: 'search-results' });
  const all = h('div', { id: 'cards' }, h('p', { class: 'muted' }, 'Loading…'));
  const form = h('form', { class: 'row search', role: 'search' }, q, kind, h('button', { type: 'submit', class: 'btn primary' }, 'Search'));
  ctx.main.append(h('div', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', {}, 'Knowledge base')), form,
    results, panel('All method cards', all)));

  const search = async () => {
    const text = q.value.trim();
    const query = new URLSearchParams();
    if (text) query.set('q', text);
    if (kind.value) query.set('kind', kind.value);
    history.replaceState(null, '', `/ui/knowledge${query.toString() ? `?${query}` : ''}`);
    if (!text) { results.replaceChildren(); return; }
    results.replaceChildren(h('p', { class: 'muted' }, 'Searching…'));
    try {
      const r = await api(`/knowledge/search?${new URLSearchParams({ q: text, k: '10', ...(kind.value ? { kind: kind.value } : {}) })}`);
      results.replaceChildren(panel(`Closest cards to “${text}”`, r.hits.length ? cardTable(r.hits.map((hit) => ({ ...hit, id: hit.card_id })), true) : empty('No card matches.')));
    } catch (err) { results.replaceChildren(errorBox(err)); }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
  const loadAll = async () => {
    try {
      const r = await api(`/knowledge/cards${kind.value ? `?kind=${kind.value}` : ''}`);
      all.replaceChildren(r.items.length ? cardTable(r.items, false) : empty('No cards.'));
    } catch (err) { all.replaceChildren(errorBox(err)); }
  };
  kind.addEventListener('change', () => { loadAll(); if (q.value.trim()) search(); });
  await Promise.all([loadAll(), search()]);
  return null;
}

function cardTable(items, withScore) {
  return h('table', { class: 'grid-table cards-table' },
    h('thead', {}, h('tr', {}, [withScore ? 'match' : null, 'card', 'family', 'kinds', 'origin', 'citation'].filter(Boolean).map((t) => h('th', {}, t)))),
    h('tbody', {}, items.map((c) => h('tr', {},
      withScore ? h('td', { class: 'num', 'data-label': 'match' }, c.score.toFixed(3)) : null,
      h('td', { 'data-label': 'card' }, link(`/ui/knowledge/${c.id}`, c.title), h('div', { class: 'muted small' }, c.id)),
      h('td', { 'data-label': 'family' }, c.family), h('td', { 'data-label': 'kinds' }, c.kinds.join(', ')),
      h('td', { 'data-label': 'origin' }, h('span', { class: `badge origin-${c.origin}` }, c.origin)),
      h('td', { 'data-label': 'citation', class: 'small' }, c.citation || '')))));
}

async function cardPage(ctx, cardId) {
  const usageBox = h('div', { id: 'card-usage' }, h('p', { class: 'muted' }, 'Loading…'));
  const card = await api(`/knowledge/cards/${cardId}`);
  if (!ctx.alive()) return null;
  ctx.setTitle(card.title);
  ctx.main.append(h('div', { class: 'page card-page' },
    h('div', { class: 'page-head' }, h('div', {},
      h('div', { class: 'crumbs' }, link('/ui/knowledge', 'Knowledge base'), ' / ', h('span', {}, card.id)),
      h('h1', {}, card.title, ' ', h('span', { class: `badge origin-${card.origin}` }, card.origin)),
      h('div', { class: 'muted' }, `${card.family} · for ${card.kinds.join(', ')}${card.citation ? ` · ${card.citation}` : ''}`))),
    h('div', { class: 'split' },
      panel('Card', h('div', {},
        card.failure_modes.length ? h('p', {}, h('strong', {}, 'Addresses: '), card.failure_modes.join('; ')) : null,
        card.tags.length ? h('p', { class: 'tags' }, card.tags.map((t) => h('span', { class: 'tag' }, t))) : null,
        markdown(stripFrontMatter(card.markdown)),
        Object.keys(card.provenance || {}).length ? h('details', {}, h('summary', {}, 'Provenance'), jsonBlock(card.provenance)) : null), { cls: 'grow' }),
      panel('Used by campaigns', usageBox, { id: 'usage-panel' }))));
  try {
    const usage = await api(`/knowledge/cards/${cardId}/usage`);
    usageBox.replaceChildren(usage.campaigns.length ? usageView(usage) : empty('No campaign has retrieved this card yet.'));
  } catch (err) { usageBox.replaceChildren(errorBox(err)); }
  return null;
}

function usageView(usage) {
  return h('div', {},
    h('p', { class: 'muted small' }, 'Effect: parent score / node score for each node whose debate saw the card (above ×1: the child improved).'),
    ...usage.campaigns.map((c) => h('div', { class: 'card-use' },
      h('div', { class: 'row' }, link(`/ui/campaigns/${c.campaign_id}`, c.name || c.campaign_id), statusBadge(c.status), h('span', { class: 'muted' }, c.problem),
        c.discovered ? h('span', { class: 'badge origin-discovered' }, 'discovered here') : null),
      c.retrieved ? h('div', { class: 'small' }, `${c.retrieved} node(s) · ${c.improved}/${c.scored} improved on their parent · median ${fmtFactor(c.median_factor)} · best ${fmtFactor(c.best_factor)}`) : null,
      c.nodes.length ? h('div', { class: 'chips' }, c.nodes.map((n) => link(`/ui/campaigns/${c.campaign_id}/nodes/${n.node_id}`,
        h('span', { class: `chip ${n.factor > 1 ? 'good' : n.factor ? 'bad' : ''}`, title: `score ${fmtScore(n.score)}, parent ${fmtScore(n.parent_score)}` },
          `#${n.node_id} ${fmtFactor(n.factor)}`)))) : null)));
}
