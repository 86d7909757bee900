// The lineage tree: a tidy left-to-right layout (depth across, leaves down) drawn on a canvas in screen
// coordinates, so pan and zoom keep markers a readable size and a frame costs milliseconds with thousands of
// nodes (an SVG element per node took ~100 ms per redraw at 2,000 nodes). Layout is O(n); hit-testing is a
// scan of the nodes in view. Keyboard and screen-reader users get the same nodes as links in "Best nodes".

import { fill, h } from './dom.js';
import { logScale, viridis } from './colors.js';
import { colorBar } from './charts.js';
import { fmtScore } from './format.js';

const PAD = 18;
const STYLE = {
  edge: '#9aa4b2', failedEdge: '#e3a19b', lineage: '#2f5fd0', bad: '#c2372d', run: '#e07b00', grey: '#8b95a5',
  plain: '#b8c0cc', champion: '#e5c400', star: '#d4a800', label: '#667085', bg: '#ffffff', stroke: 'rgba(0,0,0,0.35)',
};

export class TreeView {
  constructor({ onOpen, height = 440 } = {}) {
    this.onOpen = onOpen || (() => {});
    this.nodes = new Map(); // id -> {id, parent, depth, iteration, status, score, title, card, error, x, y}
    this.champion = null;
    this.view = null; // {kx, ky, tx, ty}: screen = t + k * layout
    this.hover = null;
    this.pending = false;
    this.canvas = h('canvas', { class: 'tree-canvas', role: 'img', 'aria-label': 'lineage tree of the campaign' });
    this.ctx = this.canvas.getContext('2d');
    this.tip = h('div', { class: 'tree-tip', hidden: true });
    this.legend = h('div', { class: 'tree-legend' });
    const btn = (label, title, fn) => h('button', { type: 'button', class: 'btn small', title, onclick: fn }, label);
    this.toolbar = h('div', { class: 'tree-tools' },
      btn('+', 'zoom in', () => this.zoomBy(1.6)), btn('−', 'zoom out', () => this.zoomBy(1 / 1.6)),
      btn('fit', 'show the whole tree', () => { this.fit(); this.draw(); }),
      btn('★', 'centre the champion', () => this.focus(this.champion)));
    this.stage = h('div', { class: 'tree-stage', style: { height: `${height}px` } }, this.canvas, this.tip);
    this.el = h('div', { class: 'tree' }, this.toolbar, this.stage, this.legend);
    this.readColors();
    this.bind();
  }

  readColors() {
    const css = getComputedStyle(document.documentElement);
    const get = (name, fallback) => (css.getPropertyValue(name) || '').trim() || fallback;
    STYLE.bg = get('--code-bg', STYLE.bg);
    STYLE.label = get('--muted', STYLE.label);
    STYLE.lineage = get('--accent', STYLE.lineage);
  }

  // -- data ---------------------------------------------------------------------------------------------------
  setColumns(cols, championId) {
    this.nodes.clear();
    for (let i = 0; i < cols.ids.length; i += 1) {
      this.nodes.set(cols.ids[i], {
        id: cols.ids[i], parent: cols.parents[i], depth: cols.depths[i], iteration: cols.iterations[i],
        status: cols.statuses[i], score: cols.scores[i], title: cols.titles[i], card: cols.cards[i], error: cols.errors[i],
      });
    }
    this.champion = championId;
    this.layout();
    if (this.isFit !== false || !this.view) this.fit();
    this.drawLegend();
    this.draw();
  }

  upsert(id, patch) {
    const node = this.nodes.get(id);
    if (node) Object.assign(node, patch);
    else {
      const parent = patch.parent != null ? this.nodes.get(patch.parent) : null;
      this.nodes.set(id, { id, parent: null, depth: parent ? parent.depth + 1 : 0, iteration: 0, status: 'pending',
        score: null, title: null, card: null, error: null, ...patch });
    }
    this.schedule();
  }

  setChampion(id) {
    this.champion = id;
    this.schedule();
  }

  get size() { return this.nodes.size; }

  // Live updates come in bursts: one layout and draw per quarter second at most.
  schedule() {
    if (this.pending) return;
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      this.layout();
      if (this.isFit || !this.view) this.fit();
      this.drawLegend();
      this.draw();
    }, 250);
  }

  // -- layout -------------------------------------------------------------------------------------------------
  layout() {
    const kids = new Map();
    const roots = [];
    const ids = [...this.nodes.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      const n = this.nodes.get(id);
      if (n.parent != null && this.nodes.has(n.parent)) {
        if (!kids.has(n.parent)) kids.set(n.parent, []);
        kids.get(n.parent).push(id);
      } else roots.push(id);
    }
    // Pre-order walk without recursion (a chain of thousands of nodes must not overflow the stack).
    const order = [];
    const stack = roots.slice().reverse().map((id) => [id, 0]);
    let leaf = 0;
    let maxDepth = 0;
    const rootSet = new Set(roots);
    while (stack.length) {
      const [id, d] = stack.pop();
      const n = this.nodes.get(id);
      order.push(id);
      n.x = d;
      maxDepth = Math.max(maxDepth, d);
      if (rootSet.has(id) && leaf > 0) leaf += 1; // a gap between separate roots
      const c = kids.get(id);
      if (c) for (let i = c.length - 1; i >= 0; i -= 1) stack.push([c[i], d + 1]);
      else { n.y = leaf; leaf += 1; }
    }
    for (let i = order.length - 1; i >= 0; i -= 1) {
      const c = kids.get(order[i]);
      if (c) this.nodes.get(order[i]).y = (this.nodes.get(c[0]).y + this.nodes.get(c[c.length - 1]).y) / 2;
    }
    this.order = order;
    this.extent = { depth: maxDepth, leaves: Math.max(1, leaf) };
    this.scale = logScale([...this.nodes.values()].filter((n) => n.status === 'succeeded').map((n) => n.score));
  }

  dims() {
    const r = this.stage.getBoundingClientRect();
    return { w: Math.max(200, r.width || 600), h: Math.max(160, r.height || 440) };
  }

  fit() {
    const { w, h: ht } = this.dims();
    const kx = Math.min(140, (w - 2 * PAD - 20) / Math.max(1, this.extent.depth));
    const ky = Math.min(28, (ht - 2 * PAD) / Math.max(1, this.extent.leaves - 1));
    const usedH = ky * Math.max(0, this.extent.leaves - 1);
    this.view = { kx, ky, tx: PAD + 12, ty: Math.max(PAD, (ht - usedH) / 2) };
    this.isFit = true;
  }

  zoomBy(f, cx, cy) {
    if (!this.view) return;
    const { w, h: ht } = this.dims();
    const v = this.view;
    const ox = cx ?? w / 2;
    const oy = cy ?? ht / 2;
    v.tx = ox - (ox - v.tx) * f;
    v.ty = oy - (oy - v.ty) * f;
    v.kx *= f;
    v.ky *= f;
    this.isFit = false;
    this.requestDraw();
  }

  focus(id) {
    const n = this.nodes.get(id);
    if (!n || !this.view) return;
    const { w, h: ht } = this.dims();
    const v = this.view;
    if (v.ky < 14) { const f = 14 / v.ky; v.kx *= f; v.ky *= f; }
    v.tx = w / 2 - n.x * v.kx;
    v.ty = ht / 2 - n.y * v.ky;
    this.isFit = false;
    this.flash = id;
    this.draw();
  }

  requestDraw() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => { this.raf = null; this.draw(); });
  }

  // -- drawing ------------------------------------------------------------------------------------------------
  radius() {
    return Math.max(2.5, Math.min(7, this.view.ky * 0.38));
  }

  screen(n) {
    return [this.view.tx + n.x * this.view.kx, this.view.ty + n.y * this.view.ky];
  }

  draw() {
    if (!this.view) return;
    const { w, h: ht } = this.dims();
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(ht * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(ht * dpr);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${ht}px`;
    }
    const g = this.ctx;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, ht);
    const r = this.radius();
    const inView = (x, y) => x > -20 && x < w + 20 && y > -20 && y < ht + 20;
    const elbow = (path, a, b) => {
      const [px, py] = this.screen(a);
      const [x, y] = this.screen(b);
      if (Math.max(py, y) < -20 || Math.min(py, y) > ht + 20 || x < -20 || px > w + 20) return;
      const mid = px + (x - px) * 0.5;
      path.moveTo(px, py); path.lineTo(mid, py); path.lineTo(mid, y); path.lineTo(x, y);
    };
    const edges = new Path2D();
    const failed = new Path2D();
    for (const n of this.nodes.values()) {
      if (n.parent != null && this.nodes.has(n.parent)) elbow(n.status === 'failed' ? failed : edges, this.nodes.get(n.parent), n);
    }
    g.lineWidth = 1;
    g.globalAlpha = 0.75;
    g.strokeStyle = STYLE.edge;
    g.stroke(edges);
    g.setLineDash([3, 2]);
    g.strokeStyle = STYLE.failedEdge;
    g.stroke(failed);
    g.setLineDash([]);
    g.globalAlpha = 1;
    if (this.hover != null && this.nodes.has(this.hover)) {
      const lineage = new Path2D();
      for (let n = this.nodes.get(this.hover); n && n.parent != null && this.nodes.has(n.parent); n = this.nodes.get(n.parent)) {
        elbow(lineage, this.nodes.get(n.parent), n);
      }
      g.lineWidth = 2.5;
      g.strokeStyle = STYLE.lineage;
      g.stroke(lineage);
    }
    // Nodes, grouped by look so that each group is one fill and one stroke.
    const groups = new Map();
    const visible = [];
    for (const n of this.nodes.values()) {
      const [x, y] = this.screen(n);
      if (!inView(x, y)) continue;
      visible.push(n);
      let key;
      if (n.status === 'succeeded' && this.scale && n.score > 0) key = `s${Math.round(this.scale.t(n.score) * 63)}`;
      else key = n.status;
      if (!groups.has(key)) groups.set(key, new Path2D());
      const p = groups.get(key);
      p.moveTo(x + r, y);
      p.arc(x, y, r, 0, Math.PI * 2);
    }
    for (const [key, path] of groups) {
      let fill = STYLE.plain;
      let stroke = STYLE.stroke;
      let dash = [];
      let width = 0.8;
      if (key[0] === 's' && /^s\d+$/.test(key)) fill = viridis(Number(key.slice(1)) / 63);
      else if (key === 'failed' || key === 'cancelled') { fill = STYLE.bg; stroke = STYLE.bad; width = 1.4; }
      else if (key === 'running') { fill = STYLE.run; stroke = '#8a4b00'; }
      else if (key === 'pending') { fill = STYLE.bg; stroke = STYLE.grey; dash = [2, 1.5]; }
      else if (key === 'skipped_duplicate') { fill = STYLE.bg; stroke = STYLE.grey; }
      g.fillStyle = fill;
      g.fill(path);
      g.setLineDash(dash);
      g.lineWidth = width;
      g.strokeStyle = stroke;
      g.stroke(path);
    }
    g.setLineDash([]);
    const crosses = new Path2D();
    const q = r * 0.62;
    for (const n of visible) {
      if (n.status !== 'failed' && n.status !== 'cancelled') continue;
      const [x, y] = this.screen(n);
      crosses.moveTo(x - q, y - q); crosses.lineTo(x + q, y + q);
      crosses.moveTo(x + q, y - q); crosses.lineTo(x - q, y + q);
    }
    g.lineWidth = 1.4;
    g.strokeStyle = STYLE.bad;
    g.stroke(crosses);
    const ring = (id, color, extra, width) => {
      const n = this.nodes.get(id);
      if (!n) return;
      const [x, y] = this.screen(n);
      if (!inView(x, y)) return;
      g.beginPath();
      g.arc(x, y, r + extra, 0, Math.PI * 2);
      g.lineWidth = width;
      g.strokeStyle = color;
      g.stroke();
    };
    ring(this.hover, '#1d2330', 1.5, 1.5);
    ring(this.flash, STYLE.lineage, 2, 3);
    const c = this.nodes.get(this.champion);
    if (c) {
      ring(this.champion, STYLE.champion, 4, 2.5);
      const [x, y] = this.screen(c);
      g.fillStyle = STYLE.star;
      g.font = '14px system-ui, sans-serif';
      g.textBaseline = 'middle';
      g.fillText('★', x - r - 18, y);
    }
    if (this.view.ky >= 16 && visible.length <= 600) {
      g.fillStyle = STYLE.label;
      g.font = '10px system-ui, sans-serif';
      g.textBaseline = 'alphabetic';
      for (const n of visible) {
        const [x, y] = this.screen(n);
        const text = n.status === 'succeeded' ? fmtScore(n.score) : n.status.replace('_', ' ');
        g.fillText(`#${n.id} ${text}`, x + r + 3, y - r - 1);
      }
    }
    this.visible = visible;
    this.drawn = visible.length;
  }

  drawLegend() {
    const counts = {};
    for (const n of this.nodes.values()) counts[n.status] = (counts[n.status] || 0) + 1;
    const parts = [];
    if (this.scale) parts.push(colorBar(viridis, this.scale.hi, this.scale.lo, { label: 'score (log)', log: true }));
    const key = (cls, label) => h('span', { class: 'key' }, h('i', { class: `swatch ${cls}` }), label);
    parts.push(h('span', { class: 'tree-keys' },
      key('st-running', `running ${counts.running || 0}`), key('st-failed', `failed ${counts.failed || 0}`),
      key('st-pending', `pending ${counts.pending || 0}`), key('st-skipped_duplicate', `duplicate ${counts.skipped_duplicate || 0}`),
      key('champion', 'champion'), h('span', { class: 'muted', id: 'tree-count' }, `${this.nodes.size} nodes`)));
    this.legend.replaceChildren(...parts);
  }

  // -- interaction --------------------------------------------------------------------------------------------
  nodeAt(clientX, clientY) {
    if (!this.view || !this.visible) return null;
    const box = this.canvas.getBoundingClientRect();
    const px = clientX - box.left;
    const py = clientY - box.top;
    const reach = (this.radius() + 3) ** 2;
    let best = null;
    let bestD = Infinity;
    for (const n of this.visible) {
      const [x, y] = this.screen(n);
      const d = (x - px) ** 2 + (y - py) ** 2;
      if (d <= reach && d < bestD) { best = n; bestD = d; }
    }
    return best ? best.id : null;
  }

  bind() {
    let drag = null;
    this.canvas.addEventListener('pointerdown', (ev) => {
      drag = { x: ev.clientX, y: ev.clientY, tx: this.view?.tx, ty: this.view?.ty, moved: false, id: this.nodeAt(ev.clientX, ev.clientY) };
      this.canvas.setPointerCapture?.(ev.pointerId);
    });
    this.canvas.addEventListener('pointermove', (ev) => {
      if (drag && this.view) {
        const dx = ev.clientX - drag.x;
        const dy = ev.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
        if (drag.moved) {
          this.view.tx = drag.tx + dx;
          this.view.ty = drag.ty + dy;
          this.isFit = false;
          this.showTip(null);
          this.requestDraw();
          return;
        }
      }
      const id = this.nodeAt(ev.clientX, ev.clientY);
      this.canvas.style.cursor = id != null ? 'pointer' : '';
      if (id !== this.hover) {
        this.hover = id;
        this.showTip(id, ev);
        this.requestDraw();
      } else if (id !== null) this.placeTip(ev);
    });
    this.canvas.addEventListener('pointerup', () => {
      if (drag && !drag.moved && drag.id != null) this.onOpen(drag.id);
      drag = null;
    });
    this.canvas.addEventListener('pointercancel', () => { drag = null; });
    this.canvas.addEventListener('pointerleave', () => {
      if (drag) return;
      this.hover = null;
      this.showTip(null);
      this.requestDraw();
    });
    this.canvas.addEventListener('wheel', (ev) => {
      if (!this.view) return;
      ev.preventDefault();
      const box = this.canvas.getBoundingClientRect();
      this.zoomBy(Math.exp(-ev.deltaY * 0.0015), ev.clientX - box.left, ev.clientY - box.top);
    }, { passive: false });
    this.resize = new ResizeObserver(() => { if (this.isFit) this.fit(); this.requestDraw(); });
    this.resize.observe(this.stage);
  }

  showTip(id, ev) {
    const n = id != null ? this.nodes.get(id) : null;
    if (!n) { this.tip.hidden = true; return; }
    fill(this.tip,
      h('strong', {}, n.title || (n.parent == null ? 'root' : 'untitled')),
      h('div', {}, `#${n.id} · iteration ${n.iteration} · ${n.status.replace('_', ' ')}`),
      n.score != null ? h('div', {}, `score ${fmtScore(n.score)}${n.id === this.champion ? '  ★ champion' : ''}`) : null,
      n.card ? h('div', { class: 'muted' }, `card: ${n.card}`) : null,
      n.error ? h('div', { class: 'err' }, n.error.slice(0, 160)) : null,
      h('div', { class: 'muted' }, 'click to open'));
    this.tip.hidden = false;
    if (ev) this.placeTip(ev);
  }

  placeTip(ev) {
    const box = this.stage.getBoundingClientRect();
    this.tip.style.left = `${Math.max(0, Math.min(ev.clientX - box.left + 14, box.width - 240))}px`;
    this.tip.style.top = `${Math.max(0, Math.min(ev.clientY - box.top + 14, box.height - 100))}px`;
  }

  // Where a node is on the page (viewport coordinates), or null when it is out of view.
  positionOf(id) {
    const n = this.nodes.get(id);
    if (!n || !this.view) return null;
    const [x, y] = this.screen(n);
    const { w, h: ht } = this.dims();
    if (x < 0 || y < 0 || x > w || y > ht) return null;
    const box = this.canvas.getBoundingClientRect();
    return { x: box.left + x, y: box.top + y };
  }

  dispose() {
    this.resize?.disconnect();
    if (this.raf) cancelAnimationFrame(this.raf);
  }
}
