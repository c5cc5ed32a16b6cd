// The IVR editor: YAML with validation as you type (problems pinned to their lines), the menu
// graph (SVG), the simulator, diff against the published version, publish and roll back.
import { $, api, el, setText, t, warsawTime } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const source = $("source");
const gutter = $("gutter");
let name = $("script").value;
let inputs = [];
let timer = null;
let lastProblems = [];

function notice(text, isError = false) {
  const node = $("notice");
  node.textContent = text;
  node.classList.toggle("error", isError);
}

function scriptUrl(suffix = "") {
  return `/ivr/api/scripts/${encodeURIComponent(name)}${suffix}`;
}

// --- loading ----------------------------------------------------------------------------------

async function load(scriptName) {
  name = scriptName;
  const data = await api(scriptUrl());
  if (!data.ok) {
    notice(data.error || `HTTP ${data.status}`, true);
    return;
  }
  renderVersions(data);
  source.value = data.published_text;
  inputs = [];
  $("sim-output").replaceChildren();
  setText("sim-inputs", "");
  $("diff").hidden = true;
  await validate();
}

function renderVersions(data) {
  const list = $("versions");
  list.replaceChildren();
  for (const v of data.versions) {
    const show = el("button", { type: "button", class: "show", text: t.show });
    show.addEventListener("click", () => showVersion(String(v.version)));
    const item = el("li", { "data-version": String(v.version) },
      el("strong", { text: `v${v.version}` }), ` ${warsawTime(v.created_at)} `,
      v.comment ? el("span", { class: "muted", text: v.comment }) : null, " ", show);
    if (v.active) item.append(" ", el("span", { class: "badge ok", text: t.published }));
    else {
      const back = el("button", { type: "button", class: "rollback", text: t.rollback });
      back.addEventListener("click", () => rollback(v.version));
      item.append(" ", back);
    }
    list.append(item);
  }
  if (data.has_file) {
    const show = el("button", { type: "button", class: "show", text: t.show });
    show.addEventListener("click", () => showVersion("file"));
    list.append(el("li", { "data-version": "file" }, el("strong", { text: t.file }),
      ` ivr/scripts/${name}.yaml `,
      data.active === null ? el("span", { class: "badge ok", text: t.published }) : "", " ", show));
  }
}

async function showVersion(version) {
  const data = await api(scriptUrl(`/versions/${version}`));
  if (data.ok) {
    source.value = data.text;
    validate();
  }
}

// --- validation as you type -------------------------------------------------------------------

function renderGutter() {
  const count = source.value.split("\n").length;
  const bad = new Set(lastProblems.map((p) => p.line));
  const lines = [];
  for (let i = 1; i <= count; i++) {
    lines.push(el("span", { class: bad.has(i) ? "ln err" : "ln", "data-line": String(i), text: String(i) }));
  }
  gutter.replaceChildren(...lines);
  gutter.scrollTop = source.scrollTop;
}

let asked = 0;
async function validate() {
  const mine = ++asked;
  const data = await api(scriptUrl("/validate"), { text: source.value });
  if (mine !== asked) return; // an answer to older text: a newer one is on its way
  if (data.status !== 200) {
    notice(data.error || `HTTP ${data.status}`, true);
    return;
  }
  lastProblems = data.problems;
  const status = $("status");
  status.textContent = data.ok ? t.validate_ok : `${t.problems}: ${data.problems.length}`;
  status.className = `badge ${data.ok ? "ok" : "warn"}`;
  const list = $("problems");
  list.replaceChildren(...data.problems.map((p) => {
    // A root cause (a link to a node that does not exist) comes first; what follows from it
    // is one folded line whose nodes open on demand.
    const covers = p.covers || [];
    const kind = p.root ? " root" : covers.length ? " folded" : "";
    const item = el("li", { class: `problem${kind}`, "data-line": String(p.line) },
      el("a", { href: "#", text: `${t.line} ${p.line}:${p.column}` }),
      p.root ? el("strong", { text: ` ${t.root_cause}:` }) : null, ` ${p.message}`,
      p.hint ? el("span", { class: "muted", text: ` — ${p.hint}` }) : null,
      covers.length > 1 ? el("details", {}, el("summary", { text: `${t.folded_nodes} (${covers.length})` }),
        el("span", { class: "covers", text: covers.join(", ") })) : null);
    item.querySelector("a").addEventListener("click", (e) => { e.preventDefault(); goToLine(p.line); });
    return item;
  }));
  renderGutter();
  if (data.graph) drawGraph(data.graph);
  $("btn-publish").disabled = !data.ok;
}

function goToLine(line) {
  const lines = source.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  source.focus();
  source.setSelectionRange(start, start + (lines[line - 1] || "").length);
  const lineHeight = source.scrollHeight / Math.max(1, lines.length);
  source.scrollTop = Math.max(0, (line - 5) * lineHeight);
}

source.addEventListener("input", () => {
  renderGutter();
  clearTimeout(timer);
  timer = setTimeout(validate, 250);
});
source.addEventListener("scroll", () => { gutter.scrollTop = source.scrollTop; });
source.addEventListener("keydown", (event) => {
  if (event.key === "Tab") { // YAML wants spaces; keep focus in the editor
    event.preventDefault();
    source.setRangeText("  ", source.selectionStart, source.selectionEnd, "end");
    source.dispatchEvent(new Event("input"));
  } else if (event.ctrlKey && event.key === "s") {
    event.preventDefault();
    $("btn-publish").click();
  }
});

// --- graph ------------------------------------------------------------------------------------

// Layered top-down: a row per distance from the start, so the call's path reads downwards.
function drawGraph(graph) {
  const svg = $("graph");
  const colW = 150, rowH = 56, boxW = 136, boxH = 26;
  const rows = new Map();
  for (const node of graph.nodes) {
    if (!rows.has(node.depth)) rows.set(node.depth, []);
    rows.get(node.depth).push(node);
  }
  const at = new Map();
  let cols = 1;
  for (const [depth, nodes] of rows) {
    cols = Math.max(cols, nodes.length);
    nodes.forEach((n, i) => at.set(n.id, { x: 8 + i * colW, y: 8 + depth * rowH }));
  }
  const width = 16 + cols * colW;
  const height = 16 + Math.max(1, rows.size) * rowH;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  const parts = [];
  for (const edge of graph.edges) {
    const a = at.get(edge.from), b = at.get(edge.to);
    if (!a || !b) continue;
    const x1 = a.x + boxW / 2, y1 = a.y + boxH, x2 = b.x + boxW / 2, y2 = b.y;
    const mid = (y1 + y2) / 2;
    const d = y2 > y1
      ? `M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}`
      : `M${x1},${y1} C${x1 + 40},${y1 + 30} ${x2 + 40},${y2 - 30} ${x2},${y2}`; // back edge
    parts.push(svgEl("path", { d, class: "edge" }, `${edge.from} → ${edge.to} (${edge.label})`));
  }
  for (const node of graph.nodes) {
    const p = at.get(node.id);
    const g = svgEl("g", { class: `gnode type-${node.type}`, "data-node": node.id });
    g.append(svgEl("rect", { x: p.x, y: p.y, width: boxW, height: boxH, rx: 5 }, `${node.type}, ${t.line} ${node.line}`));
    const label = node.queue ? `${node.id} → ${node.queue}` : node.id;
    g.append(svgEl("text", { x: p.x + 6, y: p.y + 17 }, label.length > 21 ? `${label.slice(0, 20)}…` : label));
    g.addEventListener("click", () => goToLine(node.line));
    if (node.id === graph.start) g.classList.add("start");
    parts.push(g);
  }
  svg.replaceChildren(...parts);
}

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) {
    if (tag === "text") node.textContent = text;
    else node.append(Object.assign(document.createElementNS(SVG, "title"), { textContent: text }));
  }
  return node;
}

// --- simulator --------------------------------------------------------------------------------

async function simulate() {
  const data = await api(scriptUrl("/simulate"), { text: source.value, inputs });
  setText("sim-inputs", inputs.join("  ·  "));
  const out = $("sim-output");
  if (!data.ok) {
    out.replaceChildren(el("li", { class: "error", text: data.error || data.errors?.inputs || "?" }));
    return;
  }
  out.replaceChildren(...data.lines.map((line) => {
    const kind = line.trim().split(/\s/)[0].toLowerCase().replace(/[^a-z]/g, "") || "step";
    return el("li", { class: `sim-${kind}`, text: line });
  }));
  out.lastElementChild?.scrollIntoView({ block: "nearest" });
}

$("sim-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("sim-input").value.trim();
  if (value) inputs.push(value);
  $("sim-input").value = "";
  simulate();
});
$("sim-reset").addEventListener("click", () => { inputs = []; simulate(); });

// --- diff, publish, roll back -----------------------------------------------------------------

$("btn-diff").addEventListener("click", async () => {
  const data = await api(scriptUrl("/diff"), { text: source.value });
  const box = $("diff");
  box.hidden = false;
  if (!data.lines || !data.lines.length) {
    box.replaceChildren(el("span", { text: t.no_diff }));
    return;
  }
  box.replaceChildren(...data.lines.map((line) => {
    const cls = line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@") ? "hunk" : "";
    return el("div", { class: cls, text: line });
  }));
});

$("publish-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = await api(scriptUrl("/publish"), { text: source.value, comment: $("comment").value });
  if (!data.ok) {
    const first = (data.problems || [])[0];
    notice(first ? `${t.line} ${first.line}: ${first.message}` : JSON.stringify(data.errors || data.error), true);
    return;
  }
  $("comment").value = "";
  await load(name);
  notice(`${t.published_ok} v${data.version}`);
});

async function rollback(version) {
  const data = await api(scriptUrl("/rollback"), { version });
  if (!data.ok) {
    notice(JSON.stringify(data.errors || data.error), true);
    return;
  }
  await load(name);
  notice(`${t.rollback}: v${version}`);
}

$("script").addEventListener("change", (event) => load(event.target.value));
if (name) load(name);
