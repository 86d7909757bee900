// A unified diff as a table of old/new line numbers, coloured additions and deletions, Python highlighted.

import { esc, h } from './dom.js';
import { highlightLines } from './highlight.js';

export function diffStats(text) {
  let added = 0;
  let removed = 0;
  for (const line of (text || '').split('\n')) {
    if (line.startsWith('+') && !line.startsWith('+++')) added += 1;
    else if (line.startsWith('-') && !line.startsWith('---')) removed += 1;
  }
  return { added, removed };
}

export function renderDiff(text) {
  if (!text) return h('p', { class: 'muted' }, 'No difference from the parent (or this is the root).');
  const rows = [];
  let oldNo = 0;
  let newNo = 0;
  for (const line of text.replace(/\n$/, '').split('\n')) {
    if (line.startsWith('---') || line.startsWith('+++')) {
      rows.push(`<tr class="d-file"><td colspan="3">${esc(line)}</td></tr>`);
      continue;
    }
    const hunk = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$/.exec(line);
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[2]);
      rows.push(`<tr class="d-hunk"><td></td><td></td><td>${esc(line)}</td></tr>`);
      continue;
    }
    const mark = line[0] || ' ';
    const code = highlightLines(line.slice(1))[0] || '';
    if (mark === '+') {
      rows.push(`<tr class="d-add"><td></td><td class="n">${newNo}</td><td><span class="d-mark">+</span>${code}</td></tr>`);
      newNo += 1;
    } else if (mark === '-') {
      rows.push(`<tr class="d-del"><td class="n">${oldNo}</td><td></td><td><span class="d-mark">-</span>${code}</td></tr>`);
      oldNo += 1;
    } else if (mark === '\\') {
      rows.push(`<tr class="d-meta"><td></td><td></td><td>${esc(line)}</td></tr>`);
    } else {
      rows.push(`<tr class="d-ctx"><td class="n">${oldNo}</td><td class="n">${newNo}</td><td><span class="d-mark"> </span>${code}</td></tr>`);
      oldNo += 1;
      newNo += 1;
    }
  }
  const table = h('table', { class: 'diff' });
  table.innerHTML = `<tbody>${rows.join('')}</tbody>`; // every text piece above went through esc()
  return h('div', { class: 'diff-wrap' }, table);
}
