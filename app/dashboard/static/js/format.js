// Numbers and times as a researcher reads them: errors in scientific notation, factors, money, tokens.

import { h } from './dom.js';

export function fmtScore(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 0.01 && a < 1000) return x.toPrecision(3);
  return x.toExponential(2);
}

export function fmtFactor(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x >= 1e4 || x < 1e-3) return `×${x.toExponential(1)}`;
  return `×${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}`;
}

export function fmtUsd(x) {
  if (!x) return '$0';
  return x < 0.01 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`;
}

export function fmtInt(n) {
  if (n === null || n === undefined) return '—';
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}k`;
  return String(n);
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const hr = Math.floor(m / 60);
  return `${hr}h ${String(m % 60).padStart(2, '0')}m`;
}

export function fmtWhen(iso) {
  if (!iso) return '—';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '—';
  const ago = (Date.now() - t.getTime()) / 1000;
  if (ago < 0) return `in ${fmtDuration(-ago)}`;
  if (ago < 45) return 'just now';
  if (ago < 3600) return `${Math.round(ago / 60)} min ago`;
  if (ago < 86400) return `${Math.round(ago / 3600)} h ago`;
  return t.toLocaleDateString();
}

export function fmtTime(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? '' : t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}`, title: status }, status.replace('_', ' '));
}

const ROLE_LABELS = {
  data_analyst: 'data analyst', root_engineer: 'root engineer', result_analyst: 'result analyst',
};

export function roleBadge(role) {
  return h('span', { class: `role role-${role}` }, ROLE_LABELS[role] || role.replace(/_/g, ' '));
}
