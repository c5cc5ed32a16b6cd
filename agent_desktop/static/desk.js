// The consultant desk: agent state, screen-pop, call control, case form, KB, wrap-up,
// callbacks, and the softphone (loaded on demand). Live data comes only from the CTI socket.
import {
  $, api, CtiSocket, el, formatSeconds, setText, stateLabel, t, warsawTime,
} from "./common.js";
import { attachDeskPhone, attachPhone } from "./phone_ui.js";
import { pointPicker } from "/static/geo/ckm-map.js";

const ref = JSON.parse($("ref").textContent);
const main = document.querySelector("main.desk");
const me = main.dataset.user;

const desk = {
  state: "offline",
  since: null,
  call: null, // {call_id, queue, phase: ringing|connected|held|wrap_up, pop}
  phone: null,
  duplicateOf: null,
};

let noticeTimer = null;
function notice(text, isError = false) {
  const node = $("notice");
  node.textContent = text;
  node.classList.toggle("error", isError);
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { node.textContent = ""; }, 8000);
}

async function send(type, fields = {}) {
  try {
    await cti.command(type, fields);
    return true;
  } catch (err) {
    notice(err.message, true);
    return false;
  }
}

// --- agent state ------------------------------------------------------------------------------

function showState(state, reason, since) {
  desk.state = state;
  desk.since = since ? new Date(since) : new Date();
  const badge = $("agent-state");
  badge.textContent = stateLabel(state, reason);
  badge.className = `badge state-${state}`;
  if (state === "wrap_up" && desk.call) setPhase("wrap_up");
  updateWrapup();
  tick();
}

function tick() {
  setText("agent-since", desk.since ? formatSeconds((Date.now() - desk.since) / 1000) : "");
}
setInterval(tick, 1000);

// --- screen-pop -------------------------------------------------------------------------------

function normalisePop(data) {
  // call_offered events and snapshot "ringing" entries carry the pop in two shapes.
  const pop = data.screen_pop || {};
  const caller = data.caller || {};
  return {
    number: pop.caller_number || caller.number || "",
    name: pop.caller_name || caller.name || "",
    ivr_path: pop.ivr_path || [],
    category: pop.category || "",
    transcript: pop.transcript || "",
    history: pop.history || null,
    pending: Boolean(pop.history_pending),
  };
}

function setPhase(phase) {
  if (!desk.call) return;
  desk.call.phase = phase;
  const label = { ringing: t.ringing, connected: t.connected, held: t.held, wrap_up: t.wrapup }[phase];
  const badge = $("call-phase");
  badge.textContent = label || phase;
  badge.className = `badge phase-${phase}`;
  const live = phase === "connected" || phase === "held";
  $("btn-hold").disabled = !live;
  $("btn-hangup").disabled = !live && !(phase === "ringing" && desk.phone?.ringing);
  $("btn-transfer").disabled = !live;
  $("btn-hold").textContent = phase === "held" ? t.unhold : t.hold;
  updateAnswer();
  updateWrapup();
}

// The wrap-up timer ends the consultant's wrap-up *state*, not the work: the call's pop and
// its form stay until the consultant saves them, however long the notes take.
function updateWrapup() {
  $("btn-wrapup").disabled = !(desk.state === "wrap_up" || desk.call?.phase === "wrap_up");
}

function updateAnswer() {
  $("btn-answer").disabled = !(desk.phone && desk.phone.ringing);
}

function renderPop(callId, queue, pop, callback = false) {
  if (desk.call && desk.call.phase === "wrap_up" && desk.call.call_id !== callId) {
    saveDraft(desk.call.call_id);
  }
  desk.call = { call_id: callId, queue, phase: "ringing", pop, callback };
  const resident = pop.history && pop.history.resident;
  setText("pop-name", pop.name || (resident && resident.name) || t.unknown_caller);
  setText("pop-number", pop.number);
  setText("pop-queue", callback ? `${queue} · ${t.callback_call}` : queue);
  setText("pop-path", pop.ivr_path.join(" → "));
  setText("pop-category", pop.category);
  setText("pop-transcript", pop.transcript);
  renderHistory(pop.history, pop.pending);
  if (pop.category && [...$("case-category").options].some((o) => o.value === pop.category)) {
    $("case-category").value = pop.category;
    updateRouting();
  }
  $("screen-pop").classList.add("active");
  $("screen-pop").classList.toggle("callback", callback);
  setPhase("ringing");
}

function renderHistory(history, pending) {
  const list = $("pop-history");
  const cases = $("pop-cases");
  list.replaceChildren();
  cases.replaceChildren();
  if (!history) {
    list.append(el("li", { class: "muted", text: pending ? "…" : t.none }));
    return;
  }
  if (history.resident && history.resident.name && desk.call && !desk.call.pop.name) {
    setText("pop-name", history.resident.name);
  }
  for (const item of history.interactions || []) {
    const when = warsawTime(item.started_at);
    const what = [item.channel, item.queue, item.disposition_code, item.subject || item.notes]
      .filter(Boolean).join(" · ");
    list.append(el("li", {}, el("span", { class: "muted", text: when }), " ", what));
  }
  if (!list.children.length) list.append(el("li", { class: "muted", text: t.none }));
  for (const c of history.open_cases || []) {
    // The resident often calls about a report: one click opens it, ready to be moved on.
    const open = el("button", { type: "button", class: "link", text: c.number });
    open.addEventListener("click", () => showCase({ number: c.number }));
    cases.append(el("li", {}, open, ` ${t[`st_${c.status}`] || c.status} · ${c.category}`,
      c.address ? ` · ${c.address}` : ""));
  }
  if (!cases.children.length) cases.append(el("li", { class: "muted", text: t.none }));
}

function clearPop() {
  desk.call = null;
  for (const id of ["pop-name", "pop-number", "pop-queue", "pop-path", "pop-category", "pop-transcript"]) {
    setText(id, "");
  }
  $("pop-history").replaceChildren();
  $("pop-cases").replaceChildren();
  $("screen-pop").classList.remove("active");
  $("screen-pop").classList.remove("callback");
  showConsult(null);
  const badge = $("call-phase");
  badge.textContent = t.no_call;
  badge.className = "badge";
  for (const id of ["btn-hold", "btn-hangup", "btn-transfer"]) $(id).disabled = true;
  updateAnswer();
}

// --- CTI socket -------------------------------------------------------------------------------

function onSnapshot(frame) {
  const data = frame.data;
  if (data.agent) showState(data.agent.state, data.agent.reason, data.agent.since);
  else showState("offline", "", null);
  const call = (data.calls || []).find((c) => c.agent === me);
  const ringing = (data.ringing || [])[0];
  if (call) {
    if (!desk.call || desk.call.call_id !== call.call_id) {
      renderPop(call.call_id, call.queue, normalisePop(call));
    }
    setPhase(call.held ? "held" : "connected");
    showConsult(call.consult ? call.consult.target : null);
  } else if (ringing) {
    renderPop(ringing.call_id, ringing.queue, normalisePop(ringing));
  } else if (data.agent && data.agent.state === "wrap_up" && desk.call) {
    setPhase("wrap_up");
  } else if (!(data.agent && data.agent.state === "wrap_up") && desk.call?.phase !== "wrap_up") {
    clearPop(); // a call whose wrap-up is still open keeps its pop across a reconnect
  }
}

function onEvent(name, data) {
  switch (name) {
    case "agent_state":
      if (data.agent === me) showState(data.state, data.reason, data.at);
      break;
    case "call_offered":
      if (data.agent === me) {
        renderPop(data.call_id, data.queue, normalisePop(data), Boolean(data.callback));
        if (data.callback) loadCallbacks();
      }
      break;
    case "callback_attempted":
      if (data.agent === me && !data.reached && desk.call && desk.call.call_id === data.call_id) {
        notice(t.callback_unreached, true);
        clearPop();
      }
      break;
    case "screen_pop_history":
      if (desk.call && desk.call.call_id === data.call_id) {
        desk.call.pop.history = data.history;
        renderHistory(data.history, false);
      }
      break;
    case "offer_withdrawn":
      if (data.agent === me && desk.call && desk.call.call_id === data.call_id &&
          desk.call.phase === "ringing") clearPop();
      break;
    case "call_answered":
      if (data.agent === me) {
        if (!desk.call || desk.call.call_id !== data.call_id) {
          renderPop(data.call_id, data.queue, normalisePop(data));
        }
        setPhase("connected");
      }
      break;
    case "call_held":
      if (desk.call && desk.call.call_id === data.call_id) {
        setPhase(data.held ? "held" : "connected");
        if (!data.held) showConsult(null); // back with the caller: no consultation any more
      }
      break;
    case "call_transferred":
      if (data.agent === me) {
        notice(`${t.transfer}: ${data.target}`);
        showConsult(null);
      }
      break;
    case "call_ended":
      if (desk.call && desk.call.call_id === data.call_id) {
        setPhase("wrap_up");
        showConsult(null);
      }
      break;
    case "wrap_up_done":
      if (data.agent !== me) break;
      if (data.disposition || !desk.call || desk.call.call_id !== data.call_id) clearPop();
      else notice(t.wrapup_time_over); // the timer ran out: the work is still open
      break;
    default:
      break;
  }
}

const cti = new CtiSocket({
  onSnapshot,
  onEvent,
  onStatus: (up) => {
    const badge = $("cti-state");
    badge.textContent = up ? `CTI ${t.live}` : `CTI ${t.disconnected}`;
    badge.className = `badge ${up ? "ok" : "warn"}`;
  },
  onProblem: (reason) => notice(reason, true),
});

// --- agent state buttons ----------------------------------------------------------------------

$("btn-agent-login").addEventListener("click", () => send("login"));
$("btn-ready").addEventListener("click", () => send("set_state", { state: "available" }));
$("btn-pause").addEventListener("click", () =>
  send("set_state", { state: "paused", reason: $("pause-reason").value }));
$("btn-offline").addEventListener("click", () => send("set_state", { state: "offline" }));

// --- call controls ----------------------------------------------------------------------------

$("btn-answer").addEventListener("click", () => {
  if (desk.phone && desk.phone.answer()) updateAnswer();
});
$("btn-hold").addEventListener("click", () => {
  if (!desk.call) return;
  send(desk.call.phase === "held" ? "unhold" : "hold", { call_id: desk.call.call_id });
});
$("btn-hangup").addEventListener("click", () => {
  if (!desk.call) return;
  if (desk.call.phase === "ringing" && desk.phone) desk.phone.hangup();
  else send("hangup", { call_id: desk.call.call_id });
});
function showConsult(target) {
  $("consult").hidden = target === null;
  setText("consult-target", target || "");
}

$("transfer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const target = $("transfer-target").value.trim();
  if (!desk.call || !target) return;
  const attended = $("transfer-attended").checked;
  const kind = $("transfer-kind").value;
  if (await send("transfer", { call_id: desk.call.call_id, kind, target, attended })) {
    $("transfer-target").value = "";
    if (attended) showConsult(target);
  }
});
$("btn-consult-complete").addEventListener("click", async () => {
  if (desk.call && await send("complete_transfer", { call_id: desk.call.call_id })) showConsult(null);
});
$("btn-consult-cancel").addEventListener("click", async () => {
  if (desk.call && await send("cancel_transfer", { call_id: desk.call.call_id })) showConsult(null);
});

// --- case form --------------------------------------------------------------------------------

async function updateRouting() {
  const category = $("case-category").value;
  if (!category) {
    setText("case-department", "—");
    return;
  }
  const q = new URLSearchParams({ category, district: $("case-district").value });
  const data = await api(`/desk/api/route?${q}`);
  setText("case-department", data.ok ? `${data.department.name} (${data.department.code})` : "—");
  updateNearby();
}

async function updateNearby() {
  const category = $("case-category").value;
  const lat = $("case-lat").value.trim();
  const lon = $("case-lon").value.trim();
  const box = $("nearby");
  const list = $("nearby-list");
  if (!category || !lat || !lon) {
    box.hidden = true;
    return;
  }
  const data = await api(`/desk/api/nearby?${new URLSearchParams({ category, lat, lon })}`);
  list.replaceChildren();
  for (const c of data.cases || []) {
    const button = el("button", { type: "button", text: t.link_duplicate });
    button.addEventListener("click", () => {
      desk.duplicateOf = desk.duplicateOf === c.id ? null : c.id;
      for (const b of list.querySelectorAll("button")) b.classList.remove("chosen");
      if (desk.duplicateOf === c.id) button.classList.add("chosen");
    });
    list.append(el("li", { "data-case": String(c.id) },
      el("strong", { text: c.number }), ` ${Math.round(c.distance_m)} m · ${c.address || ""} · `,
      el("span", { class: "muted", text: c.description }), " ", button));
  }
  box.hidden = !list.children.length;
}

for (const id of ["case-category", "case-district"]) $(id).addEventListener("change", updateRouting);
for (const id of ["case-lat", "case-lon"]) $(id).addEventListener("change", updateNearby);
// The map sets the point (and an empty district); the fields stay the way to type one.
pointPicker($("case-map"), { lat: $("case-lat"), lon: $("case-lon"), district: $("case-district") })
  .catch((e) => console.warn("the case map is unavailable:", e));

$("case-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const resident = desk.call?.pop?.history?.resident;
  const body = {
    category: form.category.value,
    district: form.district.value,
    address: form.address.value,
    lat: form.lat.value,
    lon: form.lon.value,
    description: form.description.value,
    priority: form.priority.value,
    resident_id: resident ? resident.id : null,
    call_id: desk.call ? desk.call.call_id : null,
    duplicate_of: desk.duplicateOf,
    notify_by: form.notify_by.value,
    notify_to: form.notify_to.value,
  };
  setText("case-errors", "");
  setText("case-result", "");
  const data = await api("/desk/api/cases", body);
  if (!data.ok) {
    setText("case-errors", fieldErrors(data));
    return;
  }
  const c = data.case;
  setText("case-result", `${t.case_saved} ${c.number} → ${c.department_name || "—"}`
    + (c.duplicate_of ? ` (${t.link_duplicate}: ${c.duplicate_of})` : ""));
  form.description.value = "";
  desk.duplicateOf = null;
  $("nearby").hidden = true;
  showCase({ number: c.number });
});

// --- finding a case and moving it on ---------------------------------------------------------

function fieldErrors(data) {
  const errors = data.errors || { error: data.error || `HTTP ${data.status}` };
  return Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join("; ");
}

function renderCase(c) {
  setText("card-number", c.number);
  const badge = $("card-status");
  badge.textContent = t[`st_${c.status}`] || c.status;
  badge.className = `badge st-${c.status}`;
  badge.dataset.status = c.status;
  setText("card-category", [c.category_name, c.subcategory_name].filter(Boolean).join(" · "));
  setText("card-department", c.department_name || "—");
  setText("card-address", [c.address, c.district, c.location_text].filter(Boolean).join(", ") || "—");
  setText("card-created", warsawTime(c.created_at));
  setText("card-channel", t[`channel_${c.channel}`] || c.channel);
  setText("card-description", c.description);
  const history = $("card-history");
  history.replaceChildren();
  for (const h of c.history || []) {
    const when = warsawTime(h.at);
    history.append(el("li", {}, el("span", { class: "muted", text: when }), " ",
      el("strong", { text: t[`st_${h.to_status}`] || h.to_status }), ` · ${h.by}`,
      h.comment ? ` — (${h.public ? t.comment_is_public : t.comment_is_internal}) ${h.comment}` : ""));
  }
  renderFollowUp(c.follow_up || {});
  const told = $("card-notifications");
  told.replaceChildren();
  for (const n of c.notifications || []) {
    const when = warsawTime(n.sent_at || n.created_at);
    told.append(el("li", { "data-status": n.status }, el("span", { class: "muted", text: when }), " ",
      el("strong", { text: t[`nt_${n.kind}`] || n.kind }), ` · ${t[`notify_${n.channel}`] || n.channel} · `,
      el("span", { class: `badge ${{ sent: "ok", failed: "warn" }[n.status] || ""}`,
        text: t[`nts_${n.status}`] || n.status }),
      n.last_error ? ` — ${n.last_error}` : ""));
  }
  $("card-not-told").hidden = told.children.length > 0;
  $("status-case-id").value = String(c.id);
  const next = $("status-next");
  next.replaceChildren(...c.next_statuses.map(
    (s) => el("option", { value: s, text: t[`st_${s}`] || s })));
  $("status-form").hidden = !c.next_statuses.length;
  $("status-final").hidden = c.next_statuses.length > 0;
  $("case-card").hidden = false;
}

// The department's side: deadline (missed, escalated, waiting for the resident), its public
// answer, and the department's own system when the case went there (Open311 or e-mail).
function renderFollowUp(f) {
  const due = $("card-due");
  due.replaceChildren(f.due_at ? warsawTime(f.due_at) : "—");
  if (f.overdue) due.append(" ", el("span", { class: "badge warn", text: t.card_overdue }));
  if (f.escalation_level) {
    due.append(" ", el("span", { class: "badge warn", text: `${t.card_escalated} ${f.escalation_level}` }));
  }
  if (f.awaiting_resident) due.append(" ", el("span", { class: "badge", text: t.card_awaiting }));
  const answer = $("card-answer");
  if (f.answer) {
    answer.replaceChildren(el("strong", { text: t[`st_${f.answer.status}`] || f.answer.status }),
      ` · ${warsawTime(f.answer.at)} · ${f.answer.by} — `, el("span", { class: "pre", text: f.answer.text }));
  } else {
    answer.replaceChildren(el("span", { class: "muted", text: t.card_no_answer }));
  }
  const forwards = $("card-forwards");
  forwards.replaceChildren(...(f.forwards || []).map((w) => el("div", { "data-status": w.status },
    `${w.department} · ${w.channel} · ${t[`nts_${w.status}`] || w.status}`,
    w.remote_id ? ` · ${w.remote_id}${w.remote_status ? ` (${w.remote_status})` : ""}` : "",
    w.last_error ? ` — ${w.last_error}` : "")));
  forwards.hidden = $("card-forwards-label").hidden = !forwards.children.length;
}

async function showCase(query) {
  setText("find-case-errors", "");
  const data = await api(`/desk/api/cases/find?${new URLSearchParams(query)}`);
  if (!data.ok) {
    $("case-card").hidden = true;
    setText("find-case-errors", fieldErrors(data));
    return;
  }
  if (query.number) $("find-case-number").value = query.number;
  renderCase(data.case);
}

$("find-case-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const number = $("find-case-number").value.trim();
  if (number) showCase({ number });
});

$("status-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  setText("status-errors", "");
  const id = $("status-case-id").value;
  const status = $("status-next").value;
  const data = await api(`/desk/api/cases/${encodeURIComponent(id)}/status`,
    { status, comment: $("status-comment").value, public: $("status-public").checked });
  if (!data.ok) {
    setText("status-errors", fieldErrors(data));
    return;
  }
  $("status-comment").value = "";
  $("status-public").checked = false;  // each comment is internal unless ticked again
  renderCase(data.case);
  notice(`${t.status_changed}: ${data.case.number} → ${t[`st_${status}`] || status}`);
});

// --- knowledge base ---------------------------------------------------------------------------

$("kb-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = $("kb-query").value.trim();
  const data = await api(`/desk/api/kb?${new URLSearchParams({ q })}`);
  const list = $("kb-hits");
  list.replaceChildren();
  for (const hit of data.hits || []) {
    const link = el("a", { href: "#", text: hit.title });
    link.addEventListener("click", async (e) => {
      e.preventDefault();
      const art = await api(`/desk/api/kb/${encodeURIComponent(hit.slug)}`);
      if (!art.ok) return;
      setText("kb-title", art.article.title);
      setText("kb-body", art.article.body);
      $("kb-article").hidden = false;
    });
    list.append(el("li", {}, link, el("div", { class: "muted", text: hit.snippet })));
  }
  if (!list.children.length) list.append(el("li", { class: "muted", text: t.none }));
});

// --- wrap-up and callbacks --------------------------------------------------------------------

$("wrapup-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const disposition = $("wrapup-disposition").value;
  const notes = $("wrapup-notes").value;
  const callId = desk.call ? desk.call.call_id : null;
  // While the agent is in wrap-up, the CTI command frees them for the next call at once; after
  // the timer has done that, only the CRM write is left — and it must still happen.
  if (desk.state === "wrap_up") {
    const ok = await send("complete_wrapup", { disposition, notes });
    if (!ok) return;
  }
  if (!callId) return;
  const saved = await api("/desk/api/wrapup", { call_id: callId, disposition, notes });
  if (saved.ok) {
    $("wrapup-notes").value = "";
    notice(`${t.wrapup}: ${disposition}`);
    if (desk.call && desk.call.call_id === callId) clearPop();
  } else {
    notice(`${t.wrapup}: ${Object.values(saved.errors || {}).join("; ")}`, true);
  }
});

// A new call arrives while the previous one's wrap-up is still open (its timer ran out): keep
// what was typed by saving it with the chosen disposition before the form serves the new call.
function saveDraft(callId) {
  const disposition = $("wrapup-disposition").value;
  const notes = $("wrapup-notes").value;
  if (!disposition) return;
  $("wrapup-notes").value = "";
  api("/desk/api/wrapup", { call_id: callId, disposition, notes }).then((saved) => {
    if (saved.ok) notice(t.wrapup_saved_early);
  });
}

async function loadCallbacks() {
  const data = await api("/desk/api/callbacks");
  const list = $("callback-list");
  list.replaceChildren();
  for (const cb of data.callbacks || []) {
    list.append(el("li", {}, el("strong", { text: cb.caller.number }), ` ${cb.caller.name || ""} · `,
      `${cb.queue} · ${warsawTime(cb.joined_at, { part: "time" })}`));
  }
  if (!list.children.length) list.append(el("li", { class: "muted", text: t.none }));
}

$("callback-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const number = $("callback-number").value.trim();
  if (!number) return;
  const ok = await send("schedule_callback", {
    queue: $("callback-queue").value, number, name: $("callback-name").value.trim(),
  });
  if (ok) {
    $("callback-number").value = "";
    $("callback-name").value = "";
    loadCallbacks();
  }
});
loadCallbacks();

// --- softphone --------------------------------------------------------------------------------

attachPhone({
  notice,
  onChange: (phone) => { desk.phone = phone; updateAnswer(); },
  onIncoming: () => { updateAnswer(); if (desk.call) setPhase(desk.call.phase); },
  onEnded: () => updateAnswer(),
});
attachDeskPhone({ notice });

// --- keyboard shortcuts -----------------------------------------------------------------------

const SHORTCUTS = {
  a: () => $("btn-answer").click(),
  h: () => $("btn-hold").click(),
  x: () => $("btn-hangup").click(),
  t: () => $("transfer-target").focus(),
  r: () => $("btn-ready").click(),
  p: () => $("btn-pause").click(),
  l: () => $("btn-agent-login").click(),
  n: () => $("case-category").focus(),
  k: () => $("kb-query").focus(),
  f: () => $("find-case-number").focus(),
  w: () => $("wrapup-disposition").focus(),
};
document.addEventListener("keydown", (event) => {
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  const action = SHORTCUTS[event.key.toLowerCase()];
  if (action) {
    event.preventDefault();
    action();
  }
});
