// Node: proposal and debate, the retrieved method card, code, diff against the parent, training curves,
// prediction against the reference with its error map, the result analysis and the debugger's attempts.

import { api, download } from '../api.js';
import { h, fill, link, panel, empty } from '../dom.js';
import { heatmap, lineChart, metricCharts } from '../charts.js';
import { inferno, viridis } from '../colors.js';
import { codeBlock } from '../highlight.js';
import { diffStats, renderDiff } from '../diff.js';
import { markdown, stripFrontMatter } from '../markdown.js';
import { fmtDuration, fmtFactor, fmtInt, fmtScore, fmtUsd, fmtWhen, statusBadge } from '../format.js';
import { jsonBlock, longText, messageItem, stat } from '../widgets.js';

const SECTIONS = [
  ['proposal', 'Proposal'], ['card', 'Method card'], ['debate', 'Debate'], ['code', 'Code'], ['diff', 'Diff'],
  ['curves', 'Curves'], ['prediction', 'Prediction'], ['analysis', 'Analysis'], ['debug', 'Debugger'], ['run', 'Run'],
];

const WEAK_ISOLATION = 'Weaker than bubblewrap: the candidate could read host files, hidden targets included, so the score may not be trustworthy.';

export async function nodePage(ctx, campaignId, nodeId) {
  const base = `/campaigns/${campaignId}/nodes/${nodeId}`;
  const [node, campaign] = await Promise.all([api(base), api(`/campaigns/${campaignId}`)]);
  if (!ctx.alive()) return null;
  ctx.setTitle(`Node ${nodeId}`);
  const parent = node.parent_id ? await api(`/campaigns/${campaignId}/nodes/${node.parent_id}`).catch(() => null) : null;
  const title = (node.proposal && node.proposal.title) || (node.parent_id ? 'untitled' : 'root');
  const isChampion = campaign.champion && campaign.champion.node_id === nodeId;
  const boxes = Object.fromEntries(SECTIONS.map(([key]) => [key, h('div', { class: 'section-body' }, h('p', { class: 'muted' }, 'Loading…'))]));

  ctx.main.append(h('div', { class: 'page node-page' },
    h('div', { class: 'page-head' }, h('div', {},
      h('div', { class: 'crumbs' }, link('/ui/', 'Campaigns'), ' / ', link(`/ui/campaigns/${campaignId}`, campaign.name || campaignId), ' / ', h('span', {}, `node ${nodeId}`)),
      h('h1', {}, `#${nodeId} `, title, ' ', statusBadge(node.status), isChampion ? h('span', { class: 'badge champion-badge' }, '★ champion') : null,
        node.weak_isolation ? h('span', { class: 'badge weak-isolation', title: WEAK_ISOLATION }, `⚠ weak isolation: ${node.isolation}`) : null),
      h('div', { class: 'muted' }, `iteration ${node.iteration} · depth ${node.depth} · ${node.operation || 'improve'} · created ${fmtWhen(node.created_at)}`)),
    h('div', { class: 'row wrap' },
      node.parent_id ? link(`/ui/campaigns/${campaignId}/nodes/${node.parent_id}`, h('span', { class: 'btn' }, `↑ parent #${node.parent_id}`)) : null,
      ...node.children.slice(0, 8).map((c) => link(`/ui/campaigns/${campaignId}/nodes/${c}`, h('span', { class: 'btn small' }, `child #${c}`))),
      node.children.length > 8 ? h('span', { class: 'muted' }, `+${node.children.length - 8} more`) : null)),
    h('div', { class: 'stats' },
      stat(campaign.problem ? 'score' : 'score', fmtScore(node.score), { cls: 'accent' }),
      stat('parent', fmtScore(parent ? parent.score : null)),
      stat('vs parent', fmtFactor(parent && parent.score && node.score ? parent.score / node.score : null), { title: 'parent score / this score (>1: better)' }),
      stat('wall', fmtDuration(node.wall_seconds)),
      stat('tokens', fmtInt(node.tokens_in + node.tokens_out)),
      stat('cost', fmtUsd(node.cost_usd)),
      stat('children', String(node.children.length)),
      stat('isolation', node.isolation || '—', { cls: node.weak_isolation ? 'weak-isolation' : '', title: node.weak_isolation ? WEAK_ISOLATION : 'the sandbox backend of this score' })),
    node.weak_isolation ? h('div', { class: 'notice warn' }, h('strong', {}, 'Weak isolation: '),
      `this score came from the '${node.isolation}' sandbox backend. ${WEAK_ISOLATION}`) : null,
    node.error ? h('div', { class: 'notice error' }, h('strong', {}, 'Failure: '), longText(node.error, { limit: 400 })) : null,
    h('nav', { class: 'chips', 'aria-label': 'sections' }, SECTIONS.map(([key, label]) => h('a', { href: `#${key}` }, label))),
    h('div', { class: 'node-grid' }, SECTIONS.map(([key, label]) => panel(label, boxes[key], { id: key })))));

  const fail = (key) => (err) => boxes[key].replaceChildren(h('p', { class: 'err' }, err.message || String(err)));
  const jobs = [];

  // Proposal
  const proposal = node.proposal || {};
  fill(boxes.proposal,
    proposal.rationale ? markdown(proposal.rationale) : (node.parent_id ? empty('No rationale recorded.') : h('p', {}, 'The root: the baseline solution the search starts from.')),
    proposal.design ? h('details', { open: true }, h('summary', {}, 'Design'), jsonBlock(proposal.design)) : null);

  // Method card
  if (proposal.card) {
    jobs.push(api(`/knowledge/cards/${proposal.card}`).then((card) => boxes.card.replaceChildren(
      h('h3', {}, link(`/ui/knowledge/${card.id}`, card.title)),
      h('div', { class: 'muted' }, `${card.family} · ${card.kinds.join(', ')} · ${card.origin}${card.citation ? ` · ${card.citation}` : ''}`),
      h('details', {}, h('summary', {}, 'Read the card'), markdown(stripFrontMatter(card.markdown))),
    )).catch((err) => boxes.card.replaceChildren(h('p', {}, `Card ${proposal.card}: `, h('span', { class: 'muted' }, err.message)))));
  } else boxes.card.replaceChildren(empty('No method card was retrieved for this node.'));

  // Debate transcript
  jobs.push(api(`${base}/messages`).then((r) => {
    const debate = r.items.filter((m) => m.role !== 'result_analyst');
    boxes.debate.replaceChildren(debate.length ? h('div', { class: 'messages static' }, debate.map((m) => messageItem(m, campaignId, { showNode: false })))
      : empty('No debate messages for this node.'));
  }).catch(fail('debate')));

  // Code
  boxes.code.replaceChildren(
    h('div', { class: 'row' }, h('span', { class: 'muted' }, `${(node.code || '').split('\n').length} lines · ${node.code_hash ? node.code_hash.slice(0, 12) : ''}`),
      h('button', { type: 'button', class: 'btn small', onclick: () => download(`${base}/code`, `node_${nodeId}.py`).catch((e) => ctx.toast(e.message, 'error')) }, 'Download .py')),
    node.code ? codeBlock(node.code) : empty('No code.'));

  // Diff
  jobs.push(api(`${base}/diff`).then((d) => {
    const st = diffStats(d.diff);
    fill(boxes.diff,
      d.parent_id ? h('div', { class: 'row' }, h('span', {}, 'against ', link(`/ui/campaigns/${campaignId}/nodes/${d.parent_id}`, `#${d.parent_id}`)),
        h('span', { class: 'add' }, `+${st.added}`), h('span', { class: 'del' }, `−${st.removed}`)) : null,
      d.parent_id ? renderDiff(d.diff) : empty('The root has no parent.'));
  }).catch(fail('diff')));

  // Curves
  jobs.push(api(`${base}/curves`).then((r) => boxes.curves.replaceChildren(curvesView(r.curves))).catch(fail('curves')));

  // Prediction vs reference
  jobs.push(api(`${base}/prediction`).then((p) => boxes.prediction.replaceChildren(predictionView(p)))
    .catch((err) => boxes.prediction.replaceChildren(empty(err.status === 404
      ? 'The predictions of this node were not stored, so there is nothing to plot.' : err.message))));

  // Analysis
  jobs.push(api(`${base}/analyses`).then((r) => boxes.analysis.replaceChildren(
    r.analysis ? markdown(r.analysis) : empty('No result analysis yet.'),
    ...r.messages.filter((m) => m.text !== r.analysis).map((m) => messageItem(m, campaignId, { showNode: false })),
  )).catch(fail('analysis')));

  // Debugger attempts
  jobs.push(api(`${base}/debug-attempts`).then((r) => boxes.debug.replaceChildren(r.attempts.length ? h('ol', { class: 'attempts' },
    r.attempts.map((a) => h('li', { class: 'attempt' },
      h('div', { class: 'row' }, h('strong', {}, `Attempt ${a.attempt}`), a.outcome ? statusBadge(a.outcome) : null, h('span', { class: 'muted' }, fmtWhen(a.created_at))),
      a.diagnosis ? longText(a.diagnosis) : null,
      a.traceback ? h('details', {}, h('summary', {}, 'Traceback'), h('pre', { class: 'trace' }, a.traceback)) : null,
      h('details', {}, h('summary', {}, 'Code'), codeBlock(a.code))))) : empty('The debugger was not needed.'))).catch(fail('debug')));

  // Run record
  const metrics = node.metrics || {};
  const run = (node.timings || {}).run;
  fill(boxes.run,
    run ? h('p', { id: 'run-usage' }, [
      run.steps != null ? `${run.steps} optimiser steps` + (run.step_budget ? ` of a ${run.step_budget}-step budget` : '') : 'steps not reported',
      `wall ${Number(run.wall_s).toFixed(1)} s` + (run.wall_budget_s ? ` (cap ${run.wall_budget_s} s)` : ''),
      `CPU ${Number(run.cpu_s).toFixed(1)} s`].join(' · ')) : null,
    Object.keys(metrics).length ? h('details', { open: true }, h('summary', {}, 'Metrics'), jsonBlock(metrics)) : null,
    node.timings ? h('details', {}, h('summary', {}, 'Timings (s)'), jsonBlock(node.timings)) : null,
    node.protections ? h('details', {}, h('summary', {}, 'Isolation'), jsonBlock(node.protections)) : null,
    h('details', { id: 'logs' }, h('summary', {}, 'Output'), h('pre', { class: 'trace', id: 'log-text' }, '…')));
  jobs.push(api(`${base}/logs`).then((text) => { document.getElementById('log-text').textContent = text || '(no output)'; }).catch(() => {}));

  await Promise.allSettled(jobs);
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
  return null;
}

function curvesView(curves) {
  const steps = curves && (curves.step || curves.t);
  if (!steps || !steps.length) return empty('No training curve was logged (task.log).');
  const columns = Object.fromEntries(Object.entries(curves).filter(([k, v]) => k !== 'step' && k !== 't'
    && Array.isArray(v) && v.some((x) => typeof x === 'number')));
  if (!Object.keys(columns).length) return empty('No numeric metric in the training log.');
  return h('div', { class: 'charts' }, metricCharts(curves.step || curves.t, columns, { xLabel: curves.step ? 'step' : 't (s)', height: 220 }));
}

function predictionView(p) {
  const note = h('p', { class: 'muted' }, `${p.metric} · ${p.shown === p.points ? `${p.points} points` : `${p.shown} of ${p.points} points shown`}`);
  if (p.layout === 'curve' || p.layout === 'points') {
    const x = p.coords[0];
    const err = p.prediction.map((v, i) => (v === null || p.reference[i] === null ? null : Math.abs(v - p.reference[i])));
    return h('div', { class: 'charts' }, note,
      lineChart({ series: [{ name: 'reference', x, y: p.reference, color: '#444' }, { name: 'prediction', x, y: p.prediction, color: '#ff725c', dash: '5 3' }],
        xLabel: p.axes[0], logY: false, height: 240, title: 'Prediction against reference' }),
      lineChart({ series: [{ name: '|error|', x, y: err, color: '#a463f2' }], xLabel: p.axes[0], logY: true, height: 180, title: 'Pointwise error' }));
  }
  if (p.layout === 'field') {
    const [x, y] = p.coords;
    const err = p.prediction.map((v, i) => (v === null || p.reference[i] === null ? null : Math.abs(v - p.reference[i])));
    return h('div', {}, note, h('div', { class: 'heat-row' },
      heatmap({ x, y, values: p.reference, title: 'Reference', xLabel: p.axes[0], yLabel: p.axes[1], cmap: viridis }),
      heatmap({ x, y, values: p.prediction, title: 'Prediction', xLabel: p.axes[0], yLabel: p.axes[1], cmap: viridis }),
      heatmap({ x, y, values: err, title: '|error|', xLabel: p.axes[0], yLabel: p.axes[1], cmap: inferno })));
  }
  // operator: a few test functions, then the error of every shown sample over the output coordinate
  const y = p.coords[0];
  const show = Math.min(3, p.samples.length);
  const curves = [];
  for (let i = 0; i < show; i += 1) {
    curves.push(lineChart({ series: [{ name: 'reference', x: y, y: p.reference[i], color: '#444' }, { name: 'prediction', x: y, y: p.prediction[i], color: '#ff725c', dash: '5 3' }],
      xLabel: 'y', logY: false, height: 200, title: `Test function ${p.samples[i]}` }));
  }
  const ex = [];
  const ey = [];
  const ev = [];
  p.prediction.forEach((row, i) => row.forEach((v, j) => {
    ex.push(y[j]); ey.push(p.samples[i]);
    ev.push(v === null || p.reference[i][j] === null ? null : Math.abs(v - p.reference[i][j]));
  }));
  return h('div', {}, note, h('div', { class: 'charts' }, curves),
    heatmap({ x: ex, y: ey, values: ev, title: '|error| by test function', xLabel: 'y', yLabel: 'sample', cmap: inferno }));
}
