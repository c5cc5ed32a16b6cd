// The supervisors' wallboard: live over the CTI socket (the hub pushes "figures" every second
// and every call event as it happens) — this page never polls.
import {
  $, api, CtiSocket, el, formatSeconds, setText, stateLabel, t, warsawTime,
} from "./common.js";
import { attachDeskPhone, attachPhone } from "./phone_ui.js";

const ref = JSON.parse($("ref").textContent);
const thresholds = Object.fromEntries(ref.queues.map((q) => [q.name, q.sl_threshold_s]));
const fullNames = Object.fromEntries(ref.agents.map((a) => [a.username, a.full_name]));
const SVG = "http://www.w3.org/2000/svg";
let slots = Array.from({ length: 96 }, () => [0, 0, 0, 0]); // offered, answered, in SL, abandoned
let agentsShown = new Map();

function notice(text, isError = false) {
  const node = $("notice");
  node.textContent = text;
  node.classList.toggle("error", isError);
}

function tileFor(queue) {
  let tile = document.querySelector(`.tile[data-queue="${CSS.escape(queue)}"]`);
  if (!tile) {
    // A queue configured after the page was rendered: same markup, built from text nodes.
    tile = el("article", { class: "tile", "data-queue": queue },
      el("h2", { text: queue }),
      el("div", { class: "big" }, el("span", { class: "v-waiting", text: "0" }), " ",
        el("small", { text: t.waiting })),
      el("dl", {}, ...[["longest", t.longest_wait], ["sl", t.service_level], ["asa", t.asa],
        ["abandoned", t.abandoned], ["callbacks", t.callbacks], ["agents", t.agents]]
        .flatMap(([key, label]) => [el("dt", { text: label }), el("dd", { class: `v-${key}`, text: "—" })])));
    $("tiles").append(tile);
  }
  return tile;
}

function put(tile, key, value) {
  const node = tile.querySelector(`.v-${key}`);
  if (node && node.textContent !== value) node.textContent = value;
}

// The center's own health (ARI answering, the controller connected), polled: a wedged
// Asterisk sends no events, so the wallboard asks instead of waiting to be told.
let systemAlarm = "";
async function pollHealth() {
  try {
    const r = await fetch("/healthz", { cache: "no-store" });
    const h = await r.json();
    systemAlarm = h.status === "ok" ? "" : `${t.alarm_system}${h.problem ? ` (${h.problem})` : ""}`;
  } catch (err) {
    systemAlarm = `${t.alarm_system} (${err.message || err})`;
  }
  renderFigures(lastFigures || { queues: [], agents: [] });
}
let lastFigures = null;
setInterval(pollHealth, 5000);
pollHealth();

function renderFigures(figures) {
  lastFigures = figures;
  const alarms = systemAlarm ? [systemAlarm] : [];
  for (const q of figures.queues || []) {
    const tile = tileFor(q.queue);
    put(tile, "waiting", String(q.waiting));
    put(tile, "longest", formatSeconds(q.longest_wait_s));
    put(tile, "sl", q.service_level === null ? "—" : `${Math.round(q.service_level * 100)}%`);
    put(tile, "asa", q.asa_s === null ? "—" : formatSeconds(q.asa_s));
    put(tile, "abandoned", q.abandoned_pct === null ? "—" : `${q.abandoned_pct.toFixed(1)}%`);
    put(tile, "callbacks", String(q.callbacks_pending));
    put(tile, "agents", `${q.agents_available} / ${q.agents_logged_in}`);
    const name = tile.querySelector("h2").textContent;
    const reasons = [];
    if (q.service_level !== null && q.service_level < q.service_level_target) {
      reasons.push(`${t.alarm_sl} (${Math.round(q.service_level * 100)}% < ${Math.round(q.service_level_target * 100)}%)`);
    }
    if (q.waiting > 0 && q.longest_wait_s > q.service_level_s) {
      reasons.push(`${t.alarm_wait} ${formatSeconds(q.service_level_s)}`);
    }
    if (q.waiting > 0 && q.agents_available === 0) reasons.push(t.alarm_noagents);
    tile.classList.toggle("alarm", reasons.length > 0);
    for (const reason of reasons) alarms.push(`${name}: ${reason}`);
  }
  const box = $("alarms");
  const text = alarms.join("\n");
  if (box.dataset.text !== text) {
    box.dataset.text = text;
    box.replaceChildren(...alarms.map((a) => el("p", { class: "alarm-line", text: `⚠ ${a}` })));
  }
  renderAgents(figures.agents || []);
  // The center's own time, as the chart's slots are: Warsaw, whatever the browser's zone.
  if (figures.at) setText("clock", warsawTime(figures.at, { part: "clock" }));
}

function renderAgents(agents) {
  const body = $("agents");
  const seen = new Set();
  for (const a of agents) {
    seen.add(a.agent);
    let row = agentsShown.get(a.agent);
    if (!row) {
      row = buildAgentRow(a.agent);
      agentsShown.set(a.agent, row);
      body.append(row.tr);
    }
    row.name.textContent = fullNames[a.agent] || a.name;
    const state = stateLabel(a.state, a.reason);
    if (row.state.textContent !== state) {
      row.state.textContent = state;
      row.state.className = `badge state-${a.state}`;
    }
    row.time.textContent = formatSeconds(a.in_state_s);
    row.callId = a.call_id;
    for (const b of row.snoop) b.disabled = !a.call_id;
    row.extend.disabled = a.state !== "wrap_up";
  }
  for (const [agent, row] of agentsShown) {
    if (!seen.has(agent)) {
      row.tr.remove();
      agentsShown.delete(agent);
    }
  }
}

function buildAgentRow(agent) {
  const row = {
    name: el("td"), state: el("span", { class: "badge" }), time: el("td", { class: "num" }),
    callId: null, snoop: [], extend: null,
  };
  const actions = el("td", { class: "actions" });
  for (const mode of ["listen", "whisper", "barge"]) {
    const b = el("button", { type: "button", text: t[mode], disabled: true });
    b.addEventListener("click", () => command("snoop", { call_id: row.callId, mode }, t[mode], agent));
    row.snoop.push(b);
    actions.append(b);
  }
  const pause = el("button", { type: "button", text: t.force_pause });
  pause.addEventListener("click", () => command("force_pause", { agent, reason: $("force-reason").value },
    t.force_pause, agent));
  const out = el("button", { type: "button", text: t.force_logout });
  out.addEventListener("click", () => command("force_logout", { agent }, t.force_logout, agent));
  // More time for a consultant still writing up a difficult call.
  row.extend = el("button", { type: "button", text: t.extend_wrapup, disabled: true });
  row.extend.addEventListener("click", () => command("extend_wrapup", { agent, seconds: 60 },
    t.extend_wrapup, agent));
  actions.append(pause, out, row.extend);
  row.tr = el("tr", { "data-agent": agent }, el("td", { text: agent }), row.name,
    el("td", {}, row.state), row.time, actions);
  return row;
}

// Listen / whisper / barge ring the supervisor's own phone: the softphone on this page answers
// that call by itself when it comes within a few seconds of the request.
let phone = null;
let snoopUntil = 0;

function phoneButtons() {
  if (!$("btn-answer")) return;
  $("btn-answer").disabled = !(phone && phone.ringing);
  $("btn-hangup").disabled = !(phone && phone.session);
}

attachPhone({
  notice,
  onChange: (p) => { phone = p; phoneButtons(); },
  onIncoming: () => {
    if (Date.now() < snoopUntil && phone) {
      snoopUntil = 0;
      phone.answer();
    }
    phoneButtons();
  },
  onEnded: () => phoneButtons(),
});
attachDeskPhone({ notice });
if ($("btn-answer")) {
  $("btn-answer").addEventListener("click", () => { phone?.answer(); phoneButtons(); });
  $("btn-hangup").addEventListener("click", () => { phone?.hangup(); phoneButtons(); });
}

async function command(type, fields, label, agent) {
  if (type === "snoop") snoopUntil = Date.now() + 15000;
  try {
    await cti?.command(type, fields);
    notice(`${label}: ${fullNames[agent] || agent} ✓`);
  } catch (err) {
    notice(err.message, true);
  }
}

// --- today's chart (SVG, drawn from text-free numbers) ----------------------------------------

function slotIndex(iso) {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/Warsaw", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso));
  const h = Number(parts.find((p) => p.type === "hour").value);
  const m = Number(parts.find((p) => p.type === "minute").value);
  return Math.floor((h * 60 + m) / 15);
}

function drawChart() {
  const svg = $("chart");
  const W = 960, H = 220, top = 10, bottom = 190, left = 30;
  const barW = (W - left) / 96;
  const max = Math.max(4, ...slots.map((s) => s[0]));
  const nodes = [];
  const line = [];
  slots.forEach(([offered, answered, inSl, abandoned], i) => {
    const x = left + i * barW;
    if (offered > 0) {
      const h = ((bottom - top) * offered) / max;
      nodes.push(svgEl("rect", { x, y: bottom - h, width: Math.max(1, barW - 1), height: h, class: "bar" },
        `${String(Math.floor(i / 4)).padStart(2, "0")}:${String((i % 4) * 15).padStart(2, "0")} — ${offered}`));
    }
    const settled = answered + abandoned;
    if (settled > 0) {
      const px = x + barW / 2, py = bottom - ((bottom - top) * inSl) / settled;
      line.push(`${px},${py}`);
      nodes.push(svgEl("circle", { cx: px, cy: py, r: 3, class: "sl-dot" },
        `${Math.round((100 * inSl) / settled)}%`));
    }
  });
  if (line.length) nodes.push(svgEl("polyline", { points: line.join(" "), class: "sl-line" }));
  for (let h = 0; h <= 24; h += 3) {
    nodes.push(svgEl("text", { x: left + h * 4 * barW, y: H - 12, class: "axis" }, `${h}:00`));
  }
  nodes.push(svgEl("text", { x: 0, y: top + 8, class: "axis" }, String(max)));
  nodes.push(svgEl("text", { x: W - 40, y: top + 8, class: "axis sl" }, "SL 100%"));
  nodes.push(svgEl("line", { x1: left, y1: bottom, x2: W, y2: bottom, class: "axis-line" }));
  svg.replaceChildren(...nodes);
  svg.dataset.total = String(slots.reduce((sum, s) => sum + s[0], 0));
}

function svgEl(tag, attrs, title) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (title !== undefined) {
    if (tag === "text") node.textContent = title;
    else node.append(Object.assign(document.createElementNS(SVG, "title"), { textContent: title }));
  }
  return node;
}

// Waiting counts move at once on call events; the figures that follow every second
// reconcile them (and carry everything else), so a missed delta heals itself.
function nudgeWaiting(queue, delta) {
  if (!queue) return;
  const node = tileFor(queue).querySelector(".v-waiting");
  node.textContent = String(Math.max(0, Number(node.textContent || "0") + delta));
}

function onEvent(name, data) {
  if (name === "figures") {
    renderFigures(data);
    return;
  }
  if (name === "call_queued") nudgeWaiting(data.queue, 1);
  else if (name === "call_left_queue" || (name === "call_answered" && !data.transferred)) {
    nudgeWaiting(data.queue, -1);
  }
  // The reports' definitions: a callback is neither offered again (the resident's call was
  // offered when it joined) nor answered when it reaches them; only "abandoned" is abandoned
  // (not a caller lost after a transfer, not a callback given up).
  if (name === "call_queued" && !data.callback) slots[slotIndex(data.at)][0] += 1;
  else if (name === "call_answered" && !data.transferred && !data.callback) {
    const s = slots[slotIndex(data.at)];
    s[1] += 1;
    if (data.waited_s <= (thresholds[data.queue] ?? 30)) s[2] += 1;
  } else if (name === "call_left_queue" && data.reason === "abandoned" && !data.callback) {
    slots[slotIndex(data.at)][3] += 1;
  } else {
    return;
  }
  drawChart();
}

let cti = null;

function connect() {
  cti = new CtiSocket({
    onSnapshot: (frame) => { if (frame.data.figures) renderFigures(frame.data.figures); },
    onEvent,
    onStatus: (up) => {
      const badge = $("cti-state");
      badge.textContent = up ? `CTI ${t.live}` : `CTI ${t.disconnected}`;
      badge.className = `badge ${up ? "ok" : "warn"}`;
    },
    onProblem: (reason) => notice(reason, true),
  });
}

// Today so far first, then the socket: counting the same call twice is worse than a gap of
// a few milliseconds between the two.
drawChart();
api("/wallboard/api/today").then((data) => {
  if (data.ok && Array.isArray(data.slots)) slots = data.slots;
  drawChart();
}).finally(connect);
