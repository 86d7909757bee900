// Charts drawn by hand: SVG line charts (linear or log axes, hover read-out) and canvas heat maps for fields.

import { h, s } from './dom.js';
import { SERIES, viridis } from './colors.js';
import { fmtScore } from './format.js';

const W = 640;
const M = { top: 12, right: 14, bottom: 34, left: 58 };

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm >= 5 ? 10 : norm >= 2 ? 5 : norm >= 1 ? 2 : 1) * mag;
}

function linearTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function logTicks(lo, hi) {
  if (hi - lo < 1) return linearTicks(10 ** lo, 10 ** hi, 4).filter((v) => v > 0).map(Math.log10);
  const a = Math.floor(lo);
  const b = Math.ceil(hi);
  const out = [];
  const mult = b - a <= 2 ? [1, 2, 5] : [1];
  const stride = Math.max(1, Math.ceil((b - a) / 6));
  for (let e = a; e <= b; e += stride) {
    for (const m of mult) {
      const v = Math.log10(m) + e;
      if (v >= lo - 1e-9 && v <= hi + 1e-9) out.push(v);
    }
  }
  return out;
}

function fmtTick(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

// series: [{name, x: [...], y: [...], color?, dash?, dots?, step?}]. Missing or (log) non-positive y leave gaps.
export function lineChart({ series, height = 260, logY = 'auto', xLabel = '', yLabel = '', title = '', xFormat } = {}) {
  const all = series.flatMap((sr) => sr.y.filter((v) => v !== null && v !== undefined && Number.isFinite(v)));
  const allX = series.flatMap((sr) => sr.x.filter((v) => Number.isFinite(v)));
  const wrap = h('figure', { class: 'chart' });
  if (title) wrap.append(h('figcaption', {}, title));
  if (!all.length || !allX.length) {
    wrap.append(h('p', { class: 'muted empty' }, 'No data yet.'));
    return wrap;
  }
  const positive = all.filter((v) => v > 0);
  const useLog = logY === 'auto'
    ? positive.length === all.length && Math.max(...positive) / Math.min(...positive) > 30
    : Boolean(logY) && positive.length > 0;
  const ty = useLog ? (v) => (v > 0 ? Math.log10(v) : NaN) : (v) => v;
  const ys = all.map(ty).filter(Number.isFinite);
  let [ylo, yhi] = [Math.min(...ys), Math.max(...ys)];
  if (yhi - ylo < 1e-12) { ylo -= useLog ? 0.5 : Math.abs(ylo) * 0.1 || 1; yhi += useLog ? 0.5 : Math.abs(yhi) * 0.1 || 1; }
  const pad = (yhi - ylo) * 0.06;
  ylo -= pad; yhi += pad;
  let [xlo, xhi] = [Math.min(...allX), Math.max(...allX)];
  if (xhi === xlo) { xlo -= 1; xhi += 1; }
  const iw = W - M.left - M.right;
  const ih = height - M.top - M.bottom;
  const px = (x) => M.left + ((x - xlo) / (xhi - xlo)) * iw;
  const py = (y) => M.top + (1 - (y - ylo) / (yhi - ylo)) * ih;
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart-svg', role: 'img', 'aria-label': title || yLabel });
  const grid = s('g', { class: 'grid' });
  const yt = useLog ? logTicks(ylo, yhi) : linearTicks(ylo, yhi);
  for (const t of yt) {
    grid.append(s('line', { x1: M.left, x2: W - M.right, y1: py(t), y2: py(t) }));
    grid.append(s('text', { x: M.left - 6, y: py(t) + 4, 'text-anchor': 'end' }, useLog ? fmtTick(10 ** t) : fmtTick(t)));
  }
  for (const t of linearTicks(xlo, xhi, 6)) {
    grid.append(s('line', { x1: px(t), x2: px(t), y1: M.top, y2: M.top + ih, class: 'v' }));
    grid.append(s('text', { x: px(t), y: height - M.bottom + 16, 'text-anchor': 'middle' }, xFormat ? xFormat(t) : fmtTick(t)));
  }
  svg.append(grid);
  if (xLabel) svg.append(s('text', { x: M.left + iw / 2, y: height - 4, 'text-anchor': 'middle', class: 'axis-label' }, xLabel));
  if (yLabel) {
    svg.append(s('text', { x: 12, y: M.top + ih / 2, 'text-anchor': 'middle', class: 'axis-label',
      transform: `rotate(-90 12 ${M.top + ih / 2})` }, yLabel + (useLog ? ' (log)' : '')));
  }
  series.forEach((sr, k) => {
    const color = sr.color || SERIES[k % SERIES.length];
    let d = '';
    let pen = false;
    let prev = null;
    const dots = [];
    for (let i = 0; i < sr.x.length; i += 1) {
      const yv = sr.y[i] === null || sr.y[i] === undefined ? NaN : ty(sr.y[i]);
      if (!Number.isFinite(yv) || !Number.isFinite(sr.x[i])) { pen = false; continue; }
      const X = px(sr.x[i]).toFixed(1);
      const Y = py(yv).toFixed(1);
      if (!pen) d += `M${X},${Y}`;
      else if (sr.step && prev) d += `H${X}V${Y}`;
      else d += `L${X},${Y}`;
      pen = true;
      prev = [X, Y];
      if (sr.dots || sr.x.length < 3) dots.push([X, Y]);
    }
    if (d) svg.append(s('path', { d, class: 'line', stroke: color, 'stroke-dasharray': sr.dash || null }));
    for (const [X, Y] of dots) svg.append(s('circle', { cx: X, cy: Y, r: 3, fill: color, class: 'dot' }));
  });
  // Hover read-out: the nearest x of each series.
  const cursor = s('line', { class: 'cursor', y1: M.top, y2: M.top + ih, x1: 0, x2: 0, visibility: 'hidden' });
  const hit = s('rect', { x: M.left, y: M.top, width: iw, height: ih, class: 'hit' });
  svg.append(cursor, hit);
  const readout = h('div', { class: 'readout' });
  hit.addEventListener('mousemove', (ev) => {
    const box = svg.getBoundingClientRect();
    const x = xlo + ((((ev.clientX - box.left) / box.width) * W - M.left) / iw) * (xhi - xlo);
    const parts = [];
    let snapped = null;
    series.forEach((sr, k) => {
      let best = -1;
      for (let i = 0; i < sr.x.length; i += 1) {
        if (sr.y[i] === null || sr.y[i] === undefined) continue;
        if (best < 0 || Math.abs(sr.x[i] - x) < Math.abs(sr.x[best] - x)) best = i;
      }
      if (best >= 0) {
        snapped = snapped ?? sr.x[best];
        parts.push(`<span style="color:${sr.color || SERIES[k % SERIES.length]}">●</span> ${escapeText(sr.name)} ${fmtScore(sr.y[best])}`);
      }
    });
    if (snapped !== null) {
      cursor.setAttribute('x1', px(snapped));
      cursor.setAttribute('x2', px(snapped));
      cursor.setAttribute('visibility', 'visible');
    }
    readout.innerHTML = `${escapeText(xLabel || 'x')} ${xFormat ? xFormat(snapped) : fmtScore(snapped)} · ${parts.join(' · ')}`;
  });
  hit.addEventListener('mouseleave', () => { cursor.setAttribute('visibility', 'hidden'); readout.textContent = ''; });
  wrap.append(svg);
  if (series.length > 1 || series[0].name) {
    wrap.append(h('div', { class: 'legend' }, series.map((sr, k) => h('span', { class: 'key' },
      h('i', { style: { background: sr.color || SERIES[k % SERIES.length] } }), sr.name))));
  }
  wrap.append(readout);
  return wrap;
}

function escapeText(t) {
  const d = document.createElement('span');
  d.textContent = String(t ?? '');
  return d.innerHTML;
}

// Training metrics as charts: metrics within a factor of ~1000 of each other share one (log axis when they are
// all positive and span decades); a 0/1 flag or a learning rate does not flatten the loss next to it.
export function metricCharts(x, columns, { xLabel = 'step', height = 200 } = {}) {
  const groups = new Map();
  for (const [name, ys] of Object.entries(columns)) {
    const vals = ys.filter((v) => typeof v === 'number' && Number.isFinite(v));
    if (!vals.length) continue;
    const top = Math.max(...vals.map(Math.abs));
    const key = `${vals.every((v) => v > 0) ? 'pos' : 'any'}:${top > 0 ? Math.round(Math.log10(top) / 3) : 'zero'}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(name);
  }
  const named = (names) => (/loss|resid|err/i.test(names.join(' ')) ? 0 : 1);
  const ordered = [...groups.values()].sort((a, b) => named(a) - named(b));
  return ordered.map((names) => lineChart({
    series: names.map((k) => ({ name: k, x, y: columns[k].map((v) => (typeof v === 'number' ? v : null)) })),
    xLabel, height,
  }));
}

// A colour bar as a small canvas with its end labels.
export function colorBar(cmap, lo, hi, { label = '', log = false, reversed = false } = {}) {
  const canvas = h('canvas', { width: 160, height: 10, class: 'colorbar' });
  const ctx = canvas.getContext('2d');
  for (let i = 0; i < 160; i += 1) {
    const t = i / 159;
    ctx.fillStyle = cmap(reversed ? 1 - t : t);
    ctx.fillRect(i, 0, 1, 10);
  }
  const f = (v) => (log ? fmtScore(10 ** v) : fmtScore(v));
  return h('div', { class: 'colorbar-wrap' }, label ? h('span', { class: 'cb-label' }, label) : null,
    h('span', {}, f(lo)), canvas, h('span', {}, f(hi)));
}

// values on scattered (x, y) points: drawn as a grid image when the points form one, as squares otherwise.
export function heatmap({ x, y, values, title = '', xLabel = 'x', yLabel = 'y', cmap = viridis, symmetric = false }) {
  const fig = h('figure', { class: 'chart heat' });
  if (title) fig.append(h('figcaption', {}, title));
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  if (!finite.length) {
    fig.append(h('p', { class: 'muted empty' }, 'No finite values.'));
    return fig;
  }
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (symmetric) { const a = Math.max(Math.abs(lo), Math.abs(hi)); lo = -a; hi = a; }
  if (hi === lo) hi = lo + 1;
  const ux = [...new Set(x)].sort((a, b) => a - b);
  const uy = [...new Set(y)].sort((a, b) => a - b);
  const size = 320;
  const canvas = h('canvas', { width: size, height: size, class: 'heat-canvas', role: 'img', 'aria-label': title });
  const ctx = canvas.getContext('2d');
  const [x0, x1] = [ux[0], ux[ux.length - 1]];
  const [y0, y1] = [uy[0], uy[uy.length - 1]];
  const sx = (v) => (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5);
  const sy = (v) => (y1 > y0 ? 1 - (v - y0) / (y1 - y0) : 0.5);
  const color = (v) => cmap((v - lo) / (hi - lo));
  if (ux.length * uy.length === values.length && ux.length > 1 && uy.length > 1) {
    const ix = new Map(ux.map((v, i) => [v, i]));
    const iy = new Map(uy.map((v, i) => [v, i]));
    const img = ctx.createImageData(ux.length, uy.length);
    for (let k = 0; k < values.length; k += 1) {
      const v = values[k];
      const p = ((uy.length - 1 - iy.get(y[k])) * ux.length + ix.get(x[k])) * 4;
      const c = v === null || !Number.isFinite(v) ? [128, 128, 128] : cmap.rgb((v - lo) / (hi - lo));
      img.data[p] = c[0]; img.data[p + 1] = c[1]; img.data[p + 2] = c[2]; img.data[p + 3] = 255;
    }
    const off = document.createElement('canvas');
    off.width = ux.length; off.height = uy.length;
    off.getContext('2d').putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, size, size);
  } else {
    const cell = Math.max(2, Math.ceil(size / Math.sqrt(values.length)));
    for (let k = 0; k < values.length; k += 1) {
      if (values[k] === null || !Number.isFinite(values[k])) continue;
      ctx.fillStyle = color(values[k]);
      ctx.fillRect(sx(x[k]) * (size - cell), sy(y[k]) * (size - cell), cell, cell);
    }
  }
  fig.append(h('div', { class: 'heat-box' },
    h('span', { class: 'heat-y' }, `${yLabel} ${fmtScore(y1)}`),
    canvas,
    h('div', { class: 'heat-x' }, h('span', {}, `${xLabel} ${fmtScore(x0)}`), h('span', {}, `${fmtScore(x1)}`)),
    h('span', { class: 'heat-y0' }, `${fmtScore(y0)}`)));
  fig.append(colorBar(cmap, lo, hi));
  return fig;
}
