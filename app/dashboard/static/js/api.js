// The REST API from the browser: the key (entered once, kept in localStorage) goes as a Bearer token.

const KEY_NAME = 'agentic-sciml.api-key';
export const API = '/v1';

export function getKey() {
  try { return localStorage.getItem(KEY_NAME) || ''; } catch { return ''; }
}

export function setKey(key) {
  try {
    if (key) localStorage.setItem(KEY_NAME, key.trim());
    else localStorage.removeItem(KEY_NAME);
  } catch { /* private mode: the key lasts for this page only */ }
}

export function authHeaders() {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

// FastAPI's two error shapes: {"detail": "text"} and {"detail": [{"loc": [...], "msg": ...}]}.
function describe(body, status) {
  const detail = body && body.detail;
  if (typeof detail === 'string') return { message: detail };
  if (Array.isArray(detail) && detail.length) {
    const first = detail[0];
    const loc = (first.loc || []).filter((p) => p !== 'body' && p !== 'query' && p !== 'path');
    return { message: `${loc.length ? loc.join('.') + ': ' : ''}${first.msg}`, field: loc[0] };
  }
  return { message: `HTTP ${status}` };
}

export async function api(path, { method = 'GET', json, form, signal, raw = false } = {}) {
  const headers = { Accept: 'application/json', ...authHeaders() };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(API + path, { method, headers, body, signal, cache: 'no-store' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'the server cannot be reached');
  }
  if (response.status === 401) {
    window.dispatchEvent(new CustomEvent('auth-required', { detail: { path } }));
  }
  if (!response.ok) {
    let parsed = null;
    try { parsed = await response.json(); } catch { /* not JSON */ }
    const { message, field } = describe(parsed, response.status);
    throw new ApiError(response.status, message, field);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  return type.includes('json') ? response.json() : response.text();
}

// Download a file the API serves behind auth (an <a href> cannot send the Bearer header).
export async function download(path, filename) {
  const response = await api(path, { raw: true });
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
