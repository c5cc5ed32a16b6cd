// Shared by the desk, the wallboard and the IVR editor.
// Rule of this code base: data from callers, residents or the network is put into the page with
// textContent / DOM nodes only — never innerHTML — so hostile text stays text.

export const t = JSON.parse(document.getElementById("i18n").textContent);

// Pause-reason codes to the labels the CRM gives them (the page's reference data).
const reasonLabels = (() => {
  const node = document.getElementById("ref");
  const ref = node ? JSON.parse(node.textContent) : {};
  return Object.fromEntries((ref.pause_reasons || []).map((p) => [p.code, p.label]));
})();

// The ACD words its reasons in plain English ("coaching (forced by boss)", "autopause",
// "pause pending: lunch"); the page says them in its own language.
export function reasonLabel(reason) {
  if (!reason) return "";
  let m = /^pause pending: (.*)$/.exec(reason);
  if (m) return `${t.reason_pending}: ${reasonLabel(m[1])}`;
  m = /^(.*) \(forced by (.+)\)$/.exec(reason);
  if (m) return `${reasonLabel(m[1])}, ${t.reason_forced_by} ${m[2]}`;
  m = /^forced by (.+)$/.exec(reason);
  if (m) return `${t.reason_forced_by} ${m[1]}`;
  if (reason === "autopause") return t.reason_autopause;
  return reasonLabels[reason] || reason;
}

export function stateLabel(state, reason) {
  const label = t[`state_${state}`] || state;
  return reason ? `${label} (${reasonLabel(reason)})` : label;
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export function $(id) {
  return document.getElementById(id);
}

// Build an element with text (never markup) and optional attributes/children.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
  }
  return node;
}

export function setText(id, value) {
  const node = $(id);
  if (node) node.textContent = value === null || value === undefined ? "" : String(value);
}

export async function api(path, body = undefined) {
  const init = { headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRF-Token"] = csrfToken();
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = {};
  try {
    data = await response.json();
  } catch (_) {
    data = { ok: false, error: `HTTP ${response.status}` };
  }
  data.status = response.status;
  return data;
}

// Times from the server are UTC ISO strings; people here read Warsaw time.
const WARSAW_DATETIME = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Europe/Warsaw", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

// part: "datetime" → "2026-11-29 11:21", "time" → "11:21", "clock" → "11:21:05".
export function warsawTime(iso, { part = "datetime" } = {}) {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return String(iso);
  const text = WARSAW_DATETIME.format(at); // "2026-11-29 11:21:05"
  if (part === "time") return text.slice(11, 16);
  if (part === "clock") return text.slice(11);
  return text.slice(0, 16);
}

export function formatSeconds(total) {
  const s = Math.max(0, Math.round(total));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m % 60)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

// The CTI websocket: a snapshot first, then ordered events; reconnects with backoff and
// resynchronises from the next snapshot (the hub sends one on every connection).
export class CtiSocket {
  constructor(handlers) {
    this.handlers = handlers;
    this.nextId = 1;
    this.pending = new Map();
    this.delay = 500;
    this.ws = null;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/cti/ws?csrf=${encodeURIComponent(csrfToken())}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => { this.delay = 500; };
    ws.onmessage = (msg) => this.receive(msg.data);
    ws.onclose = () => {
      this.handlers.onStatus?.(false);
      for (const [, entry] of this.pending) entry.reject(new Error(t.disconnected));
      this.pending.clear();
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 8000);
    };
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (frame.type === "snapshot") {
      this.handlers.onStatus?.(true);
      this.handlers.onSnapshot?.(frame);
    } else if (frame.type === "event") {
      this.handlers.onEvent?.(frame.event, frame.data, frame.seq);
    } else if (frame.type === "ack" || frame.type === "refused" || frame.type === "error") {
      const entry = this.pending.get(frame.id);
      if (entry) {
        this.pending.delete(frame.id);
        if (frame.type === "ack") entry.resolve(frame);
        else entry.reject(new Error(frame.reason));
      } else if (frame.type !== "ack") {
        this.handlers.onProblem?.(frame.reason);
      }
    }
  }

  // Send a command; resolves on ack, rejects with the hub's reason on refusal.
  command(type, fields = {}) {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error(t.disconnected));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ type, id, ...fields }));
    });
  }
}
