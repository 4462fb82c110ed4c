// The tape browser: list, view (same detail view as requests), delete, mark for
// re-recording, and diff two tapes.
import { call } from "./api.js";
import { diffTable, renderDetail } from "./detail.js";
import { ago, bytes, debounce, el } from "./util.js";

const $ = (id) => document.getElementById(id);
let ctx = null;
const picked = new Set();
let openKey = null;

export function initTapes(context) {
  ctx = context;
  $("tape-search").addEventListener("input", debounce(refreshTapes, 200));
  $("tape-diff").addEventListener("click", showDiff);
}

export async function refreshTapes() {
  let res;
  try { res = await call("listTapes", { q: $("tape-search").value.trim(), limit: 1000 }); } catch (e) { ctx.toast(e.message); return; }
  $("tape-count").textContent = `${res.total} tape${res.total === 1 ? "" : "s"}${res.total > res.items.length ? ` (first ${res.items.length})` : ""}`;
  const head = el("tr", {}, ["", "tape", "model", "endpoint", "recorded", "size", "last used", "hits", "reply"].map((h) => el("th", { text: h })));
  const rows = res.items.map((t) => el("tr", { class: `${t.key === openKey ? "open" : ""}${t.rerecord ? " marked" : ""}`, "data-key": t.key, onclick: (e) => { if (e.target.type !== "checkbox") openTape(t.key); } },
    el("td", {}, el("input", { type: "checkbox", "aria-label": `select ${t.id}`, checked: picked.has(t.key), onchange: (e) => { if (e.target.checked) picked.add(t.key); else picked.delete(t.key); $("tape-diff").disabled = picked.size !== 2; } })),
    el("td", { class: "mono" }, t.id, t.rerecord ? el("span", { class: "badge st-pending", text: "re-record" }) : null),
    el("td", { text: t.model || "–" }),
    el("td", { class: "mono", text: `${t.method} ${t.endpoint}` }),
    el("td", { text: ago(t.recorded_at), title: t.recorded_at }),
    el("td", { class: "num", text: bytes(t.size) }),
    el("td", { text: t.last_used === null || t.last_used === undefined ? "–" : ago(t.last_used) }),
    el("td", { class: "num", text: t.hits === null || t.hits === undefined ? "–" : String(t.hits) }),
    el("td", { class: "preview" }, t.tools.map((n) => el("span", { class: "chip", text: n })), t.text)));
  for (const k of [...picked]) if (!res.items.some((t) => t.key === k)) picked.delete(k);
  $("tape-diff").disabled = picked.size !== 2;
  $("tapes").replaceChildren(el("table", { class: "tapetable" }, head, rows));
}

export async function openTape(key) {
  openKey = key;
  const root = $("tape-detail");
  let d;
  try { d = await call("getTape", { key }); } catch (e) { root.replaceChildren(el("div", { class: "errorbox", text: e.message })); return; }
  const del = el("button", { class: "btn danger", text: "Delete" });
  del.addEventListener("click", async () => {
    if (del.dataset.armed !== "1") { del.dataset.armed = "1"; del.textContent = "Click again to delete"; setTimeout(() => { del.dataset.armed = ""; del.textContent = "Delete"; }, 4000); return; }
    await call("deleteTape", { key });
    openKey = null;
    root.replaceChildren(el("div", { class: "empty", text: `Tape ${d.tape} deleted.` }));
    refreshTapes();
  });
  const mark = el("button", { class: "btn", text: d.rerecord ? "Unmark re-record" : "Re-record next time",
    title: "In auto mode the next matching request goes upstream and overwrites this tape" });
  mark.addEventListener("click", async () => {
    await call(d.rerecord ? "unmarkRerecord" : "markRerecord", { key });
    openTape(key); refreshTapes();
  });
  renderDetail(root, d, { kind: "tape", modal: ctx.modal, actions: [mark, del] });
  for (const tr of document.querySelectorAll(".tapetable tr[data-key]")) tr.classList.toggle("open", tr.dataset.key === key);
}

async function showDiff() {
  const [a, b] = [...picked];
  const res = await call("diffTapes", { a, b });
  const modal = ctx.modal;
  const reply = Object.entries(res.response).map(([field, v]) => ({ field, a: v.a, b: v.b }));
  modal.replaceChildren(el("div", { class: "modal-box wide" },
    el("div", { class: "modal-head" }, el("b", { text: `Tape ${res.a.id} vs tape ${res.b.id}` })),
    el("h4", { text: "Request (the fields that decide matching)" }), diffTable(res.request, res.a.id, res.b.id),
    el("h4", { text: "Reply" }), diffTable(reply, res.a.id, res.b.id),
    el("div", { class: "modal-foot" }, el("button", { class: "btn", text: "Close", onclick: () => modal.classList.add("hidden") }))));
  modal.classList.remove("hidden");
}
