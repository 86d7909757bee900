// Server-sent events over fetch: EventSource cannot send an Authorization header, and the API wants one.
// Reconnects on its own (server's `retry`, then backing off to 10 s) and resumes with Last-Event-ID, so a
// dropped connection loses nothing: the server replays every event after the last id this client saw.

import { API, authHeaders } from './api.js';

export class EventStream {
  constructor(path, { lastId = null, onEvent, onControl, onState } = {}) {
    this.path = path;
    this.lastId = lastId;
    this.onEvent = onEvent || (() => {});
    this.onControl = onControl || (() => {});
    this.onState = onState || (() => {});
    this.retryMs = 1000;
    this.failures = 0;
    this.stopped = false;
    this.controller = null;
    this.connections = 0;
  }

  start() {
    this.loop();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
    this.onState('closed');
  }

  async loop() {
    while (!this.stopped) {
      let ended = false;
      try {
        ended = await this.connect();
        this.failures = 0;
      } catch (err) {
        if (this.stopped) return;
        this.failures += 1;
      }
      if (this.stopped || ended) return;
      this.onState('reconnecting');
      const delay = Math.min(10000, this.retryMs * 2 ** Math.min(this.failures, 4));
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  // One connection; resolves true when the server ended the stream for good (event: end).
  async connect() {
    this.controller = new AbortController();
    const headers = { Accept: 'text/event-stream', ...authHeaders() };
    if (this.lastId !== null && this.lastId !== undefined) headers['Last-Event-ID'] = String(this.lastId);
    const response = await fetch(API + this.path, { headers, signal: this.controller.signal, cache: 'no-store' });
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent('auth-required', { detail: { path: this.path } }));
      throw new Error('unauthorised');
    }
    if (response.status === 404) {
      this.onState('gone');
      return true;
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    this.connections += 1;
    this.onState('live');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let message = { data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream closed');
      buffer += value;
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer[newline] === '\r' && buffer[newline + 1] === '\n' ? 2 : 1));
        if (line === '') {
          if (this.dispatch(message)) return true;
          message = { data: [] };
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? '' : line.slice(colon + 1);
          if (val.startsWith(' ')) val = val.slice(1);
          if (field === 'data') message.data.push(val);
          else if (field === 'id') message.id = val;
          else if (field === 'event') message.event = val;
          else if (field === 'retry' && /^\d+$/.test(val)) this.retryMs = Number(val);
        }
      }
    }
  }

  dispatch(message) {
    if (message.id !== undefined) this.lastId = message.id;
    if (!message.data.length) return false;
    let data;
    try { data = JSON.parse(message.data.join('\n')); } catch { return false; }
    if (message.event && message.event !== 'message') {
      this.onControl(message.event, data);
      return message.event === 'end';
    }
    this.onEvent(data);
    return false;
  }
}
