// replaydeck dashboard: plain ES modules, no build step, no CDN.
// State lives here: the request rows (history pages + live events), the selection,
// the open detail and the live socket. The list is virtualized (fixed row height,
// only visible rows in the DOM) and paged from the history, so 10,000 rows stay fast.
import { call, loadSpec } from "./api.js";
import { sessionChart } from "./charts.js";
import { renderDetail, sourceBadge, stateBadge } from "./detail.js";
import { initTapes, refreshTapes, openTape } from "./tapes.js";
import { clock, debounce, el, ms, tokens } from "./util.js";

const ROW_H = 48;
const PAGE = 200;
const $ = (id) => document.getElementById(id);

const S = {
  rows: [], byId: new Map(), selected: -1, openId: null, openHandle: null, next: null,
  total: 0, loading: false, live: new Map(), view: "requests", gen: 0, gaps: 0,
};

function filters() {
  const tools = $("f-tools").checked ? "true" : "";
  return { q: $("search").value.trim(), model: $("f-model").value, provider: $("f-provider").value,
    source: $("f-source").value, status: $("f-status").value, tools };
}
function filtering() { const f = filters(); return Object.values(f).some((v) => v); }

// ------------------------------------------------------------------ list

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; renderList(); renderChart(); });
}

function rowView(r, i) {
  if (r.gap) {
    return el("div", { class: "row gaprow", "data-i": i },
      el("span", { text: `⚠ ${r.dropped} live event${r.dropped === 1 ? "" : "s"} dropped: this tab fell behind. The list was reloaded from the history.` }));
  }
  const state = r.state || "pending";
  const status = r.status === undefined || r.status === null ? "…" : String(r.status);
  const node = el("div", { class: `row rs-${state}${i === S.selected ? " selected" : ""}${r.id === S.openId ? " open" : ""}`, "data-i": i, "data-id": r.id, "data-ts": r.ts, role: "option" },
    el("div", { class: "line1" },
      el("span", { class: "c-state" }, stateBadge(state)),
      el("span", { class: "c-src" }, sourceBadge(r.source)),
      el("span", { class: "c-path mono", title: `${r.method || ""} ${(r.route || "") + (r.path || "")}` }, el("b", { text: r.method || "" }), " ", (r.route || "") + (r.path || "")),
      el("span", { class: "c-model", text: r.model || "–" }),
      el("span", { class: `c-status ${r.status >= 400 && state === "error" ? "bad" : ""}`, text: status,
        title: r.status === 499 && state === "complete" ? "the client closed the connection after the reply ended" : null }),
      el("span", { class: "c-num", text: ms(r.duration_ms) }),
      el("span", { class: "c-num", text: ms(r.ttfb_ms) }),
      el("span", { class: "c-num", text: tokens(r) })),
    el("div", { class: "line2" },
      el("span", { class: "muted t" , text: clock(r.ts) }),
      (r.tools || []).map((t) => el("span", { class: "chip", text: t })),
      el("span", { class: r.error ? "preview err" : "preview", text: r.error ? r.error : (r.text || "") })));
  return node;
}

function renderList() {
  const list = $("list");
  const spacer = $("list-spacer");
  spacer.style.height = `${S.rows.length * ROW_H}px`;
  const first = Math.max(0, Math.floor(list.scrollTop / ROW_H) - 6);
  const last = Math.min(S.rows.length, first + Math.ceil(list.clientHeight / ROW_H) + 12);
  const frag = document.createDocumentFragment();
  for (let i = first; i < last; i++) {
    const node = rowView(S.rows[i], i);
    node.style.top = `${i * ROW_H}px`;
    frag.append(node);
  }
  spacer.replaceChildren(frag);
  const shown = S.rows.filter((r) => !r.gap).length;
  $("list-foot").textContent = S.rows.length
    ? `${shown} shown${S.total > shown ? ` of ${S.total}` : ""}${S.loading ? " · loading…" : S.next ? " · scroll for more" : ""}`
    : (S.loading ? "loading…" : filtering() ? "nothing matches" : "No requests yet. Point an SDK at this proxy, e.g. OPENAI_BASE_URL=" + location.origin + "/v1");
  if (S.rows.length > 0 && !S.loading && S.next && list.scrollTop + list.clientHeight > S.rows.length * ROW_H - 12 * ROW_H) loadPage();
}

let lastChart = 0;
function renderChart() {
  const now = Date.now();
  if (now - lastChart < 200) { setTimeout(scheduleRender, 220); return; }
  lastChart = now;
  $("session-chart").innerHTML = sessionChart(S.rows.filter((r) => !r.gap), S.openId);
}

function addRow(row, atTop) {
  if (S.byId.has(row.id)) { Object.assign(S.byId.get(row.id), row); return; }
  S.byId.set(row.id, row);
  if (atTop) {
    S.rows.unshift(row);
    if (S.selected >= 0) S.selected++;
    const list = $("list");
    if (list.scrollTop > ROW_H) list.scrollTop += ROW_H; // keep what the reader is looking at
  } else S.rows.push(row);
}

async function loadPage(reset = false) {
  if (S.loading && !reset) return;
  const gen = reset ? ++S.gen : S.gen;
  S.loading = true;
  try {
    const res = await call("listRequests", { ...filters(), before: reset ? "" : S.next, limit: PAGE });
    if (gen !== S.gen) return;
    if (reset) { S.rows = []; S.byId = new Map(); S.selected = -1; $("list").scrollTop = 0; }
    for (const r of res.items) addRow(r, false);
    S.next = res.next;
    S.total = res.total;
  } catch (e) {
    $("list-foot").textContent = `could not load the history: ${e.message}`;
  } finally {
    if (gen === S.gen) S.loading = false;
    scheduleRender();
  }
}

async function reloadKeepingPlace() {
  // after a gap: fetch the newest page again and fold it in
  const res = await call("listRequests", { ...filters(), limit: PAGE });
  for (const r of res.items.reverse()) {
    if (S.byId.has(r.id)) Object.assign(S.byId.get(r.id), r);
    else addRow(r, true);
  }
  S.rows.sort((a, b) => (b.ts || 0) - (a.ts || 0));
  scheduleRender();
}

function select(i, scroll = true) {
  if (!S.rows.length) return;
  S.selected = Math.max(0, Math.min(S.rows.length - 1, i));
  if (scroll) {
    const list = $("list");
    const top = S.selected * ROW_H;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW_H > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW_H - list.clientHeight;
  }
  scheduleRender();
}

async function openRow(id) {
  if (!id) return;
  S.openId = id;
  scheduleRender();
  const root = $("detail");
  let detail = null;
  for (let attempt = 0; attempt < 5 && !detail; attempt++) {
    try { detail = await call("getRequest", { rid: id }); } catch (e) {
      if (e.status !== 404 || attempt === 4) { root.replaceChildren(el("div", { class: "errorbox", text: e.message })); return; }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  if (S.openId !== id) return;
  const row = S.byId.get(id);
  if (row && (row.state === "streaming" || row.state === "pending") && detail.state === "pending") detail.state = row.state;
  S.openHandle = renderDetail(root, detail, { live: S.live.get(id), modal: $("modal"), onViewTape: (key) => { switchView("tapes"); openTape(key); } });
}

// ------------------------------------------------------------------ live events

function onEvent(ev) {
  if (ev.type === "hello") {
    setSettings(ev);
    if (!filtering()) for (const r of ev.inflight || []) addRow(r, true);
  } else if (ev.type === "started") {
    if (!filtering()) addRow(ev.row, true);
  } else if (ev.type === "delta") {
    const row = S.byId.get(ev.id);
    const live = S.live.get(ev.id) || { text: "", tools: [] };
    live.text = ev.replace ? ev.text : live.text + (ev.text || "");
    for (const name of ev.tools || []) if (!live.tools.includes(name)) live.tools.push(name);
    S.live.set(ev.id, live);
    if (row) {
      row.state = "streaming";
      row.text = live.text.length > 300 ? "…" + live.text.slice(-299) : live.text;
      row.tools = [...live.tools];
    }
    if (S.openId === ev.id && S.openHandle) S.openHandle.live(live);
  } else if (ev.type === "completed") {
    const row = S.byId.get(ev.row.id);
    if (row) {
      for (const [k, v] of Object.entries(ev.row)) if (v !== null && v !== undefined) row[k] = v;
      if (!ev.row.error) delete row.error;
    } else if (!filtering()) addRow(ev.row, true);
    S.live.delete(ev.row.id);
    S.total += 1;
    addFacet("f-model", ev.row.model);
    if (S.openId === ev.row.id) openRow(ev.row.id);
  } else if (ev.type === "gap") {
    S.gaps += 1;
    S.rows.unshift({ gap: true, id: `gap-${S.gaps}`, dropped: ev.dropped, ts: Date.now() / 1000 });
    reloadKeepingPlace().catch(() => {});
  } else if (ev.type === "settings") {
    setSettings(ev);
  } else if (ev.type === "tapes") {
    if (S.view === "tapes") refreshTapes();
  }
  scheduleRender();
}

let retry = 0;
function connect() {
  const conn = $("conn");
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/__replaydeck/api/events`);
  ws.onopen = () => { retry = 0; conn.textContent = "live"; conn.className = "conn on"; };
  ws.onmessage = (m) => { for (const ev of JSON.parse(m.data)) onEvent(ev); };
  ws.onclose = () => {
    conn.textContent = "reconnecting"; conn.className = "conn off";
    retry = Math.min(retry + 1, 6);
    setTimeout(() => { connect(); if (retry > 1) loadPage(true); }, 250 * 2 ** retry);
  };
  ws.onerror = () => {}; // onclose follows and reconnects
}

// ------------------------------------------------------------------ settings

let modes = ["auto", "off", "replay-only"];
function setSettings(s) {
  if (s.modes) modes = s.modes;
  const seg = $("mode");
  seg.replaceChildren(...modes.map((m) => el("button", {
    class: `segbtn${m === s.mode ? " active" : ""}`, "data-mode": m, role: "radio", "aria-checked": String(m === s.mode), text: m,
    onclick: () => call("updateSettings", {}, { mode: m }).then(setSettings).catch((e) => alertBar(e.message)),
  })));
  if (s.timing) {
    const sel = $("timing");
    if (![...sel.options].some((o) => o.value === s.timing)) sel.append(el("option", { value: s.timing, text: s.timing }));
    sel.value = s.timing;
  }
}

function alertBar(msg) {
  const bar = el("div", { class: "toast", text: msg });
  document.body.append(bar);
  setTimeout(() => bar.remove(), 4000);
}

function addFacet(id, value) {
  if (!value) return;
  const sel = $(id);
  if (![...sel.options].some((o) => o.value === value)) sel.append(el("option", { value, text: value }));
}

// ------------------------------------------------------------------ views + keys

function switchView(name) {
  S.view = name;
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.view === name);
  $("view-requests").classList.toggle("hidden", name !== "requests");
  $("view-tapes").classList.toggle("hidden", name !== "tapes");
  if (name === "tapes") refreshTapes(); else scheduleRender();
}

function onKey(e) {
  const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement && document.activeElement.tagName);
  if (e.key === "Escape") {
    $("modal").classList.add("hidden");
    if (typing) document.activeElement.blur();
    return;
  }
  if (typing || S.view !== "requests" || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "ArrowDown" || e.key === "j") { e.preventDefault(); select(S.selected + 1); }
  else if (e.key === "ArrowUp" || e.key === "k") { e.preventDefault(); select(S.selected - 1); }
  else if (e.key === "Enter") { const r = S.rows[S.selected]; if (r && !r.gap) { e.preventDefault(); openRow(r.id); } }
  else if (e.key === "/") { e.preventDefault(); $("search").focus(); }
}

async function main() {
  await loadSpec();
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => switchView(b.dataset.view));
  $("list").addEventListener("scroll", scheduleRender);
  window.addEventListener("resize", scheduleRender);
  $("list").addEventListener("click", (e) => {
    const node = e.target.closest(".row");
    if (!node || node.classList.contains("gaprow")) return;
    select(Number(node.dataset.i), false);
    openRow(node.dataset.id);
  });
  $("session-chart").addEventListener("click", (e) => {
    const g = e.target.closest("g.bar");
    if (!g) return;
    const i = S.rows.findIndex((r) => r.id === g.dataset.id);
    if (i >= 0) select(i);
    openRow(g.dataset.id);
  });
  const refilter = debounce(() => loadPage(true), 200);
  $("search").addEventListener("input", refilter);
  for (const id of ["f-model", "f-provider", "f-source", "f-status", "f-tools"]) $(id).addEventListener("change", () => loadPage(true));
  $("timing").addEventListener("change", (e) => call("updateSettings", {}, { timing: e.target.value }).then(setSettings).catch((err) => alertBar(err.message)));
  $("modal").addEventListener("click", (e) => { if (e.target === $("modal")) $("modal").classList.add("hidden"); });
  document.addEventListener("keydown", onKey);
  initTapes({ modal: $("modal"), toast: alertBar });
  setSettings(await call("getSettings"));
  const facets = await call("getFacets");
  for (const m of facets.model) addFacet("f-model", m);
  for (const p of facets.provider) addFacet("f-provider", p);
  await loadPage(true);
  connect();
  $("list").focus();
  document.body.dataset.ready = "1";
}

main().catch((e) => { document.body.append(el("div", { class: "errorbox", text: `dashboard failed to start: ${e.message}` })); });
