// A small Python highlighter: one pass of a tokenising regex, then the tokens are split into lines so
// that a string or comment spanning lines stays coloured. Output is escaped HTML, one string per line.

import { esc, h } from './dom.js';

const KEYWORDS = new Set(('False None True and as assert async await break class continue def del elif else except '
  + 'finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case')
  .split(' '));
const BUILTINS = new Set(('abs all any bool dict enumerate float getattr hasattr int isinstance len list map max min '
  + 'print range reversed round set sorted str sum super tuple type zip open iter next Exception ValueError '
  + 'RuntimeError TypeError KeyError self cls').split(' '));

const TOKEN = new RegExp([
  '(#[^\\n]*)', // 1 comment
  '((?:[rRbBuUfF]{1,2})?(?:"""[\\s\\S]*?(?:"""|$)|\'\'\'[\\s\\S]*?(?:\'\'\'|$)|"(?:\\\\.|[^"\\\\\\n])*"?|\'(?:\\\\.|[^\'\\\\\\n])*\'?))', // 2 string
  '(@[A-Za-z_][\\w.]*)', // 3 decorator
  '(\\b(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\\d[\\d_]*\\.?[\\d_]*|\\.\\d[\\d_]*)(?:[eE][+-]?\\d+)?j?)\\b)', // 4 number
  '([A-Za-z_][A-Za-z0-9_]*)', // 5 name
].join('|'), 'g');

export function tokens(code) {
  const out = [];
  let last = 0;
  let afterDef = false;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(code); m; m = TOKEN.exec(code)) {
    if (m.index > last) out.push(['', code.slice(last, m.index)]);
    let type = '';
    if (m[1] !== undefined) type = 'com';
    else if (m[2] !== undefined) type = 'str';
    else if (m[3] !== undefined) type = 'dec';
    else if (m[4] !== undefined) type = 'num';
    else if (m[5] !== undefined) {
      const word = m[5];
      if (afterDef) type = 'fn';
      else if (KEYWORDS.has(word)) type = 'kw';
      else if (BUILTINS.has(word)) type = 'bi';
      afterDef = word === 'def' || word === 'class';
    }
    if (m[5] === undefined) afterDef = false;
    out.push([type, m[0]]);
    last = TOKEN.lastIndex;
    if (m[0].length === 0) TOKEN.lastIndex += 1; // never loop on an empty match
  }
  if (last < code.length) out.push(['', code.slice(last)]);
  return out;
}

export function highlightLines(code) {
  const lines = [''];
  for (const [type, text] of tokens(code)) {
    const parts = text.split('\n');
    parts.forEach((part, i) => {
      if (i > 0) lines.push('');
      if (part) lines[lines.length - 1] += type ? `<span class="tok-${type}">${esc(part)}</span>` : esc(part);
    });
  }
  if (lines.length > 1 && lines[lines.length - 1] === '' && code.endsWith('\n')) lines.pop();
  return lines;
}

// A code listing with line numbers; the HTML comes from highlightLines, which escapes every character.
export function codeBlock(code, { cls = '' } = {}) {
  const lines = highlightLines(code || '');
  const pre = h('pre', { class: `code ${cls}` });
  const body = h('code', { class: 'lang-python' });
  body.innerHTML = lines.map((line, i) => `<span class="ln" data-n="${i + 1}"></span>${line}`).join('\n');
  pre.append(body);
  return pre;
}
