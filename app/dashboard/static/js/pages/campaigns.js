// Campaigns: the list (status, problem, best score, improvement over the root, cost, elapsed), a form to
// launch one and a form to upload a custom problem.

import { api } from '../api.js';
import { h, link, panel, empty } from '../dom.js';
import { fmtDuration, fmtFactor, fmtInt, fmtScore, fmtUsd, fmtWhen, statusBadge } from '../format.js';
import { errorBox } from '../widgets.js';

const ACTIVE = new Set(['running', 'queued', 'created']);

export async function campaignsPage(ctx) {
  ctx.setTitle('Campaigns');
  const statusFilter = h('select', { 'aria-label': 'status filter' },
    ['', 'running', 'paused', 'completed', 'failed', 'cancelled', 'created'].map((v) => h('option', { value: v }, v || 'any status')));
  const tableBox = h('div', { class: 'table-box' }, h('p', { class: 'muted' }, 'Loading…'));
  const launchBox = h('div');
  const uploadBox = h('div');
  const launchPanel = h('details', { class: 'fold', id: 'launch' }, h('summary', {}, 'Launch a campaign'), launchBox);
  const uploadPanel = h('details', { class: 'fold', id: 'upload' }, h('summary', {}, 'Upload a problem'), uploadBox);
  ctx.main.append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Campaigns'), h('div', { class: 'row' }, statusFilter)),
    h('div', { class: 'forms' }, launchPanel, uploadPanel),
    panel('All campaigns', tableBox, { id: 'campaigns' })));

  let problems = [];
  const loadProblems = async () => {
    problems = (await api('/problems')).items;
    return problems;
  };
  const launch = launchForm(ctx, () => problems);
  launchBox.append(launch.el);
  uploadBox.append(uploadForm(ctx, async (name) => {
    await loadProblems();
    launch.setProblems(problems, name);
    launchPanel.open = true;
  }));
  try {
    await loadProblems();
    launch.setProblems(problems);
  } catch (err) {
    launchBox.replaceChildren(errorBox(err));
  }

  let timer = null;
  let stopped = false;
  const refresh = async () => {
    clearTimeout(timer);
    let active = false;
    try {
      const q = statusFilter.value ? `&status=${statusFilter.value}` : '';
      const page = await api(`/campaigns?limit=200${q}`);
      if (stopped) return;
      tableBox.replaceChildren(campaignTable(page));
      active = page.items.some((c) => ACTIVE.has(c.state));
    } catch (err) {
      if (stopped) return;
      tableBox.replaceChildren(errorBox(err));
    }
    if (!stopped) timer = setTimeout(refresh, active ? 3000 : 15000);
  };
  statusFilter.addEventListener('change', refresh);
  if (!problems.length || location.hash === '#launch') launchPanel.open = true;
  await refresh();
  return () => { stopped = true; clearTimeout(timer); };
}

function campaignTable(page) {
  if (!page.items.length) return empty('No campaigns yet: launch one above.');
  const rows = page.items.map((c) => {
    const nodes = c.progress.nodes_by_status || {};
    return h('tr', { dataset: { id: c.id } },
      h('td', { 'data-label': 'Campaign' }, link(`/ui/campaigns/${c.id}`, c.name || c.id), c.name ? h('div', { class: 'muted small' }, c.id) : null),
      h('td', { 'data-label': 'Problem' }, c.problem, c.problem_kind ? h('div', { class: 'muted small' }, c.problem_kind) : null),
      h('td', { 'data-label': 'Status' }, statusBadge(c.state)),
      h('td', { 'data-label': 'Best score', class: 'num' }, fmtScore(c.best_score)),
      h('td', { 'data-label': 'vs root', class: 'num', title: `root ${fmtScore(c.root_score)}` }, fmtFactor(c.improvement_factor)),
      h('td', { 'data-label': 'Progress', class: 'num' }, `${c.progress.iterations_done}/${c.progress.iterations_planned} it`,
        h('div', { class: 'muted small' }, `${c.progress.nodes} nodes${nodes.failed ? `, ${nodes.failed} failed` : ''}`)),
      h('td', { 'data-label': 'Cost', class: 'num' }, fmtUsd(c.cost.usd), h('div', { class: 'muted small' }, `${fmtInt(c.cost.tokens_in + c.cost.tokens_out)} tok`)),
      h('td', { 'data-label': 'Elapsed', class: 'num' }, elapsed(c)),
      h('td', { 'data-label': 'Created' }, fmtWhen(c.created_at)));
  });
  return h('table', { class: 'grid-table campaigns-table' },
    h('thead', {}, h('tr', {}, ['Campaign', 'Problem', 'Status', 'Best score', 'vs root', 'Progress', 'Cost', 'Elapsed', 'Created']
      .map((t) => h('th', {}, t)))),
    h('tbody', {}, rows),
    page.total > page.items.length ? h('caption', {}, `${page.items.length} of ${page.total}`) : null);
}

// Active time of finished runs; a first run still going is timed from its start.
function elapsed(c) {
  if (c.state === 'running' && !c.wall_seconds && c.started_at) return fmtDuration((Date.now() - Date.parse(c.started_at)) / 1000);
  return fmtDuration(c.wall_seconds);
}

function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', {}, label), input, hint ? h('small', { class: 'muted' }, hint) : null);
}

function num(name, { value = '', min, max, step = 'any', placeholder } = {}) {
  return h('input', { type: 'number', name, value, min, max, step, placeholder, inputmode: 'decimal' });
}

function launchForm(ctx, getProblems) {
  const problem = h('select', { name: 'problem', required: true });
  const budgetHint = h('small', { class: 'muted' });
  const error = h('p', { class: 'err', hidden: true, role: 'alert' });
  const inputs = {
    name: h('input', { type: 'text', name: 'name', maxlength: 200, placeholder: 'optional' }),
    team: h('select', { name: 'team' }, h('option', { value: 'offline' }, 'offline (no LLM)'), h('option', { value: 'llm' }, 'LLM (server providers file)')),
    iterations: num('iterations', { value: 3, min: 0, max: 1000, step: 1 }),
    parents: num('parents', { value: 2, min: 1, max: 64, step: 1 }),
    debate_rounds: num('debate_rounds', { value: 4, min: 1, max: 12, step: 1 }),
    concurrency: num('concurrency', { value: 1, min: 1, max: 64, step: 1 }),
    debug_attempts: num('debug_attempts', { value: 2, min: 0, max: 10, step: 1 }),
    candidate_seconds: num('candidate_seconds', { min: 1, placeholder: 'problem default' }),
    candidate_steps: num('candidate_steps', { min: 1, step: 1, placeholder: 'seconds budget' }),
    smoke_seconds: num('smoke_seconds', { value: 3, min: 0, max: 600 }),
    max_wall_seconds: num('max_wall_seconds', { min: 1, placeholder: 'none' }),
    max_cost_usd: num('max_cost_usd', { min: 0, placeholder: 'none' }),
    max_tokens: num('max_tokens', { min: 0, step: 1, placeholder: 'none' }),
    target_score: num('target_score', { placeholder: 'none' }),
    memory: h('select', { name: 'memory' }, ['full', 'none', 'random'].map((v) => h('option', { value: v }, v))),
    seed: num('seed', { value: 0, min: 0, step: 1 }),
  };
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Launch');
  const form = h('form', { class: 'form-grid', id: 'launch-form', novalidate: true },
    field('Problem', problem, null), field('Name', inputs.name),
    h('fieldset', {}, h('legend', {}, 'Team'),
      field('Team', inputs.team), field('Debate rounds', inputs.debate_rounds), field('Debug attempts', inputs.debug_attempts),
      field('Method memory', inputs.memory, 'cards retrieved for each debate')),
    h('fieldset', {}, h('legend', {}, 'Search'),
      field('Iterations', inputs.iterations), field('Parents per iteration', inputs.parents),
      field('Concurrency', inputs.concurrency), field('Seed', inputs.seed)),
    h('fieldset', {}, h('legend', {}, 'Budgets'),
      field('Seconds per candidate', inputs.candidate_seconds, budgetHint),
      field('Steps per candidate', inputs.candidate_steps, 'optimiser steps: scores then do not depend on the load'),
      field('Smoke run seconds', inputs.smoke_seconds, '0 disables'),
      field('Max wall seconds', inputs.max_wall_seconds), field('Max cost (USD)', inputs.max_cost_usd),
      field('Max tokens', inputs.max_tokens), field('Target score', inputs.target_score, 'stop when reached')),
    error, h('div', { class: 'row end' }, submit));

  const describe = () => {
    const p = getProblems().find((x) => x.name === problem.value);
    budgetHint.textContent = p ? `${p.kind}, ${p.metric}; default ${p.budget.wall_seconds ?? '?'} s` : '';
  };
  problem.addEventListener('change', describe);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    form.querySelectorAll('.invalid').forEach((el) => el.classList.remove('invalid'));
    const body = { problem: problem.value };
    for (const [key, el] of Object.entries(inputs)) {
      const v = el.value.trim();
      if (v === '') continue;
      body[key] = el.type === 'number' ? Number(v) : v;
    }
    submit.disabled = true;
    try {
      const created = await api('/campaigns', { method: 'POST', json: body });
      ctx.toast(`Campaign ${created.id} queued`);
      ctx.navigate(`/ui/campaigns/${created.id}`);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      const bad = err.field && (inputs[err.field] || (err.field === 'problem' ? problem : null));
      if (bad) { bad.classList.add('invalid'); bad.focus(); }
    } finally {
      submit.disabled = false;
    }
  });
  return {
    el: form,
    setProblems(items, select) {
      const current = select || problem.value;
      const groups = [['builtin', 'Built-in'], ['user', 'Uploaded']].map(([source, label]) => {
        const opts = items.filter((p) => p.source === source)
          .map((p) => h('option', { value: p.name, title: p.summary }, `${p.name} (${p.kind})`));
        return opts.length ? h('optgroup', { label }, opts) : null;
      });
      problem.replaceChildren(...groups.filter(Boolean));
      if (current && items.some((p) => p.name === current)) problem.value = current;
      else if (items.some((p) => p.name === 'discontinuous_fit1d')) problem.value = 'discontinuous_fit1d';
      describe();
    },
  };
}

function uploadForm(ctx, onUploaded) {
  const error = h('p', { class: 'err', hidden: true, role: 'alert' });
  const name = h('input', { type: 'text', name: 'name', required: true, pattern: '[A-Za-z][A-Za-z0-9_]{0,63}', placeholder: 'my_problem' });
  const kind = h('select', { name: 'kind' }, ['regression', 'pinn', 'operator'].map((v) => h('option', { value: v }, v)));
  const metric = h('select', { name: 'metric' }, ['rel_l2', 'mse'].map((v) => h('option', { value: v }, v)));
  const description = h('textarea', { name: 'description', rows: 5, required: true, placeholder: 'What the agents read: the equation, domain, conditions, arrays…' });
  const descFile = h('input', { type: 'file', accept: '.md,.txt,text/markdown,text/plain', 'aria-label': 'description file' });
  const data = h('input', { type: 'file', name: 'data', accept: '.npz', required: true });
  const wall = num('wall_seconds', { min: 1, placeholder: 'e.g. 30' });
  const pde = h('textarea', { name: 'pde', rows: 2, placeholder: 'PINN only: the PDE spec as JSON, e.g. {"variables": {"x": [0, 1], "t": [0, 1]}, "equation": "u_t = 0.1*u_xx", "conditions": [{"where": "t == 0", "value": "sin(pi*x)"}, {"where": "boundary", "value": "0"}]}' });
  descFile.addEventListener('change', async () => {
    const f = descFile.files[0];
    if (f) description.value = await f.text();
  });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Upload');
  const form = h('form', { class: 'form-grid', id: 'upload-form', novalidate: true },
    field('Name', name, 'letters, digits and _'), field('Kind', kind), field('Metric', metric),
    field('Seconds per candidate', wall, 'the problem\'s default budget'),
    h('label', { class: 'field wide' }, h('span', {}, 'Description (markdown)'), description, h('small', {}, 'or from a file: ', descFile)),
    field('Data (.npz)', data, 'train_<name>, query_<name> and targets arrays (see problems/examples)'),
    h('label', { class: 'field wide' }, h('span', {}, 'PDE (optional)'), pde),
    error, h('div', { class: 'row end' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!data.files[0]) { error.textContent = 'data: choose an .npz file'; error.hidden = false; return; }
    const body = new FormData();
    body.append('name', name.value.trim());
    body.append('kind', kind.value);
    body.append('metric', metric.value);
    body.append('description', description.value);
    body.append('data', data.files[0]);
    if (wall.value) body.append('budget', JSON.stringify({ wall_seconds: Number(wall.value) }));
    if (pde.value.trim()) body.append('pde', pde.value.trim());
    submit.disabled = true;
    try {
      const created = await api('/problems', { method: 'POST', form: body });
      ctx.toast(`Problem ${created.name} uploaded`);
      form.reset();
      await onUploaded(created.name);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
