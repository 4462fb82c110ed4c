// The detail view of one request or tape (both arrive in the same shape).
import { call } from "./api.js";
import { timeline, waterfall } from "./charts.js";
import { highlight, pretty, tryParse } from "./json.js";
import { bytes, chunkText, clock, copyText, el, ms, tokens } from "./util.js";

const TABS = ["Transcript", "Response", "Timing", "Raw", "Headers", "Chunks", "Tape"];
let currentTab = "Transcript";

function badge(cls, text) { return el("span", { class: `badge ${cls}`, text }); }

export function stateBadge(state) { return badge(`st-${state || "pending"}`, state || "pending"); }
export function sourceBadge(source) { return source ? badge(`src-${source}`, source) : badge("src-none", "…"); }

function jsonBlock(value) { return el("pre", { class: "json", html: highlight(value) }); }

function partsText(content) {
  if (content === null || content === undefined) return [];
  if (typeof content === "string") return [{ kind: "text", text: content }];
  if (!Array.isArray(content)) return [{ kind: "json", value: content }];
  const out = [];
  for (const p of content) {
    if (typeof p === "string") out.push({ kind: "text", text: p });
    else if (p.type === "text" || p.type === "input_text" || p.type === "output_text" || (p.text && !p.type)) out.push({ kind: "text", text: p.text });
    else if (p.type === "tool_use" || p.functionCall) {
      const fc = p.functionCall || p;
      out.push({ kind: "call", name: fc.name, id: p.id, args: fc.input ?? fc.args });
    } else if (p.type === "tool_result" || p.functionResponse) {
      const fr = p.functionResponse || p;
      out.push({ kind: "result", id: p.tool_use_id || fr.name, value: fr.content ?? fr.response });
    } else if (p.type === "image_url" || p.type === "image" || p.inlineData) out.push({ kind: "note", text: "[image]" });
    else out.push({ kind: "json", value: p });
  }
  return out;
}

function messageView(role, parts, extra = {}) {
  const body = el("div", { class: "msg-body" });
  for (const p of parts) {
    if (p.kind === "text") body.append(el("div", { class: "msg-text", text: p.text }));
    else if (p.kind === "note") body.append(el("div", { class: "muted", text: p.text }));
    else if (p.kind === "call") {
      body.append(el("div", { class: "toolcall" },
        el("div", { class: "tc-head" }, el("span", { class: "chip", text: p.name || "tool" }), p.id ? el("span", { class: "muted mono", text: p.id }) : null),
        el("pre", { class: "json", html: pretty(p.args ?? {}) })));
    } else if (p.kind === "result") {
      body.append(el("div", { class: "toolresult" },
        el("div", { class: "tc-head" }, el("span", { class: "muted", text: "result" }), p.id ? el("span", { class: "muted mono", text: p.id }) : null),
        el("pre", { class: "json", html: pretty(p.value ?? "") })));
    } else body.append(jsonBlock(p.value));
  }
  return el("div", { class: `msg role-${role}${extra.reply ? " reply" : ""}` },
    el("div", { class: "msg-role" }, role, extra.label ? el("span", { class: "muted", text: ` · ${extra.label}` }) : null), body);
}

function toolDefs(body) {
  let tools = Array.isArray(body.tools) ? body.tools : [];
  const flat = [];
  for (const t of tools) {
    if (t.functionDeclarations) for (const f of t.functionDeclarations) flat.push({ name: f.name, description: f.description, params: f.parameters });
    else if (t.function) flat.push({ name: t.function.name, description: t.function.description, params: t.function.parameters });
    else flat.push({ name: t.name || t.type, description: t.description, params: t.input_schema || t.parameters || t });
  }
  return flat;
}

function transcript(d, live) {
  const body = d.request_body && typeof d.request_body === "object" ? d.request_body : {};
  const box = el("div", { class: "transcript" });
  const meta = [];
  for (const k of ["model", "temperature", "max_tokens", "max_completion_tokens", "top_p", "tool_choice", "stream"]) {
    if (body[k] !== undefined) meta.push(el("span", { class: "kv" }, el("b", { text: k }), " ", typeof body[k] === "object" ? JSON.stringify(body[k]) : String(body[k])));
  }
  if (meta.length) box.append(el("div", { class: "params" }, meta));
  const system = body.system ?? body.instructions ?? (body.systemInstruction && body.systemInstruction.parts);
  if (system) box.append(messageView("system", partsText(system)));
  const defs = toolDefs(body);
  if (defs.length) {
    box.append(el("details", { class: "tools" },
      el("summary", {}, `${defs.length} tool definition${defs.length > 1 ? "s" : ""}: `, defs.map((t) => el("span", { class: "chip", text: t.name }))),
      defs.map((t) => el("div", { class: "tooldef" }, el("div", {}, el("b", { text: t.name }), t.description ? el("span", { class: "muted", text: ` — ${t.description}` }) : null), jsonBlock(t.params || {})))));
  }
  const messages = body.messages || body.contents || (Array.isArray(body.input) ? body.input : null);
  if (messages) {
    for (const m of messages) {
      if (m.type === "function_call") { box.append(messageView("assistant", [{ kind: "call", name: m.name, id: m.call_id, args: m.arguments }])); continue; }
      if (m.type === "function_call_output") { box.append(messageView("tool", [{ kind: "result", id: m.call_id, value: m.output }])); continue; }
      const parts = partsText(m.content ?? m.parts);
      for (const tc of m.tool_calls || []) parts.push({ kind: "call", name: tc.function && tc.function.name, id: tc.id, args: tc.function && tc.function.arguments });
      const role = m.role === "model" ? "assistant" : m.role || "user";
      box.append(messageView(role, parts, { label: m.tool_call_id ? `for ${m.tool_call_id}` : m.name }));
    }
  } else if (typeof body.input === "string" || typeof body.prompt === "string") {
    box.append(messageView("user", partsText(body.input ?? body.prompt)));
  } else if (d.request_body !== null && d.request_body !== undefined && !Object.keys(body).length) {
    box.append(jsonBlock(d.request_body));
  }
  box.append(replyView(d, live));
  return box;
}

function replyView(d, live) {
  const s = d.summary || {};
  const streaming = d.state === "pending" || d.state === "streaming";
  const text = streaming && live ? live.text : s.text;
  const parts = [];
  if (text) parts.push({ kind: "text", text });
  for (const tc of s.tool_calls || []) parts.push({ kind: "call", name: tc.name, id: tc.id, args: tc.arguments });
  if (streaming && live) for (const name of live.tools || []) parts.push({ kind: "note", text: `calling ${name}…` });
  if (!parts.length && d.source === "miss") parts.push({ kind: "note", text: "No tape matches this request and the mode is replay-only, so it failed without calling upstream. The Tape tab shows the nearest tapes and the fields that differ." });
  if (!parts.length && s.error) parts.push({ kind: "note", text: `error: ${s.error.message || JSON.stringify(s.error)}` });
  if (!parts.length && d.error) parts.push({ kind: "note", text: `error: ${d.error}` });
  if (!parts.length) parts.push({ kind: "note", text: streaming ? "waiting for the first token…" : "(no text)" });
  const v = messageView("assistant", parts, { reply: true, label: streaming ? "streaming" : `reply${s.stop_reason ? ` · ${s.stop_reason}` : ""}` });
  v.id = "live-reply";
  if (streaming) v.classList.add("streaming");
  return v;
}

function responseTab(d) {
  const s = d.summary || {};
  const box = el("div", { class: "response" });
  const usage = s.usage || {};
  box.append(el("div", { class: "facts" },
    fact("status", d.status ?? "–"), fact("stop reason", s.stop_reason || "–"), fact("model", s.model || d.model || "–"),
    ...Object.entries(usage).filter(([, v]) => typeof v === "number").map(([k, v]) => fact(k.replace(/_/g, " "), v))));
  if (s.error || d.error) box.append(el("div", { class: "errorbox" }, el("b", { text: "error " }), s.error ? JSON.stringify(s.error) : d.error));
  box.append(el("h4", { text: "Text" }), el("div", { class: "msg-text reply-text", text: s.text || "(none)" }));
  if ((s.tool_calls || []).length) {
    box.append(el("h4", { text: "Tool calls" }));
    for (const tc of s.tool_calls) box.append(el("div", { class: "toolcall" }, el("div", { class: "tc-head" }, el("span", { class: "chip", text: tc.name }), el("span", { class: "muted mono", text: tc.id || "" })), el("pre", { class: "json", html: pretty(tc.arguments) })));
  }
  return box;
}

function fact(k, v) { return el("div", { class: "fact" }, el("span", { class: "muted", text: k }), el("b", { text: String(v) })); }

function rawResponse(d) {
  const text = (d.chunks || []).map((c) => chunkText(c.c)).join("");
  const parsed = tryParse(text);
  if (parsed.ok) return jsonBlock(parsed.value);
  // an event stream: show each data payload as pretty JSON when it is JSON
  const lines = text.split("\n").map((line) => {
    const m = /^data: ?(.*)$/.exec(line);
    if (m) { const p = tryParse(m[1]); return p.ok ? `<span class="j-key">data:</span> ${highlight(JSON.stringify(p.value))}` : `<span class="j-key">data:</span> ${highlight(JSON.stringify(m[1])).slice(0)}`; }
    return line ? `<span class="muted">${line.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" }[c]))}</span>` : "";
  });
  return el("pre", { class: "json", html: lines.join("\n") });
}

function headersTable(h) {
  const rows = Object.entries(h || {});
  if (!rows.length) return el("div", { class: "muted", text: "none" });
  return el("table", { class: "kvtable" }, rows.map(([k, v]) => el("tr", {}, el("td", { class: "mono", text: k }), el("td", { class: v === "REDACTED" ? "mono masked" : "mono", text: v === "REDACTED" ? "•••••• (secret, masked)" : v }))));
}

function chunksTable(d) {
  const pts = timeline(d.chunks || []);
  if (!pts.length) return el("div", { class: "muted", text: "no chunks" });
  const shown = pts.slice(0, 2000);
  return el("div", {},
    pts.length > shown.length ? el("div", { class: "muted", text: `first ${shown.length} of ${pts.length} chunks` }) : null,
    el("table", { class: "chunks" }, el("tr", {}, el("th", { text: "#" }), el("th", { text: "at" }), el("th", { text: "gap" }), el("th", { text: "bytes" }), el("th", { text: "data" })),
      shown.map((p) => el("tr", {}, el("td", { text: String(p.i + 1) }), el("td", { text: ms(p.at) }), el("td", { text: `+${ms(p.gap)}` }), el("td", { text: String(p.size) }),
        el("td", { class: "mono chunkdata", text: chunkText(d.chunks[p.i].c).slice(0, 400) })))));
}

function tapeTab(d, opts) {
  const box = el("div", { class: "tapetab" });
  if (opts.kind === "tape") {
    box.append(el("div", { class: "facts" }, fact("tape", d.tape), fact("recorded", d.recorded_at || "–"), fact("hits", d.hits ?? "–"), fact("last used", d.last_used ?? "–")),
      el("div", { class: "mono muted", text: `key ${d.key}` }));
    return box;
  }
  box.append(el("div", { class: "facts" }, fact("key", (d.key || "").slice(0, 16) + "…"), fact("tape", d.tape || (d.tape_exists ? "exists" : "none")), fact("source", d.source || "–")));
  if (d.tape_exists && opts.onViewTape) box.append(el("button", { class: "btn", text: "Open tape", onclick: () => opts.onViewTape(d.key) }));
  const out = el("div", { class: "nearest" }, el("div", { class: "muted", text: "Looking for the nearest tapes…" }));
  box.append(el("h4", { text: "Nearest tapes (what a replay-only miss would say)" }), out);
  call("getRequestNearest", { rid: d.id }).then((n) => {
    out.replaceChildren();
    if (n.exact) out.append(el("div", { class: "ok", text: `Exact match: tape ${n.exact} replays this request.` }));
    else out.append(el("div", { class: "mono explain", text: n.explanation }));
    for (const near of n.nearest) {
      out.append(el("div", { class: "near" }, el("div", {}, el("b", { text: `tape ${near.tape}` }), el("span", { class: "muted", text: ` ${near.endpoint}` }), opts.onViewTape ? el("button", { class: "btn small", text: "open", onclick: () => opts.onViewTape(near.key) }) : null),
        diffTable(near.differences.map((x) => ({ field: x.field, a: x.request, b: x.tape })), "this request", "tape")));
    }
  }).catch((e) => { out.replaceChildren(el("div", { class: "errorbox", text: e.message })); });
  return box;
}

export function diffTable(rows, aName, bName) {
  if (!rows.length) return el("div", { class: "muted", text: "no differences" });
  const cell = (v) => el("td", {}, el("pre", { class: "json", html: v === null || v === undefined ? '<span class="muted">(absent)</span>' : highlight(JSON.stringify(v, null, 2)) }));
  return el("table", { class: "difftable" }, el("tr", {}, el("th", { text: "field" }), el("th", { text: aName }), el("th", { text: bName })),
    rows.map((r) => el("tr", {}, el("td", { class: "mono", text: r.field }), cell(r.a), cell(r.b))));
}

async function showCurl(d, modal) {
  let text;
  if (String(d.id).startsWith("tape:")) text = "(open the request that used this tape to copy it as curl)";
  else text = (await call("getRequestCurl", { rid: d.id })).curl;
  const area = el("textarea", { class: "mono curl", readonly: true, spellcheck: "false" });
  area.value = text;
  const status = el("span", { class: "muted" });
  modal.replaceChildren(el("div", { class: "modal-box" },
    el("div", { class: "modal-head" }, el("b", { text: "Copy as curl" }), el("span", { class: "muted", text: " secrets are shell variables, never values" })),
    area,
    el("div", { class: "modal-foot" }, status,
      el("button", { class: "btn", text: "Copy", onclick: async () => { area.select(); status.textContent = (await copyText(text)) ? "copied" : "select and copy (clipboard not allowed)"; } }),
      el("button", { class: "btn", text: "Close", onclick: () => modal.classList.add("hidden") }))));
  modal.classList.remove("hidden");
  area.focus();
}

// Render into `root`; returns {update(detail, live)} for live streaming updates.
export function renderDetail(root, d, opts = {}) {
  const title = `${d.method || ""} ${(d.route || "") + (d.path || "")}`;
  const tabs = el("div", { class: "dtabs", role: "tablist" });
  const content = el("div", { class: "dcontent" });
  const live = opts.live || null;
  const head = el("div", { class: "dhead" },
    el("div", { class: "dtitle" }, stateBadge(d.state), sourceBadge(d.source), el("span", { class: "mono path", text: title }),
      el("div", { class: "spacer" }),
      opts.kind !== "tape" ? el("button", { class: "btn", text: "Copy as curl", onclick: () => showCurl(d, opts.modal) }) : null,
      opts.actions || null),
    el("div", { class: "dmeta" },
      fact("model", d.model || "–"), fact("status", d.status ?? "…"), fact("time", ms(d.duration_ms)), fact("ttfb", ms(d.ttfb_ms)),
      fact("tokens", tokens({ tokens_in: (d.summary && d.summary.usage && (d.summary.usage.prompt_tokens ?? d.summary.usage.input_tokens)), tokens_out: (d.summary && d.summary.usage && (d.summary.usage.completion_tokens ?? d.summary.usage.output_tokens)) })),
      fact(opts.kind === "tape" ? "recorded" : "at", opts.kind === "tape" ? (d.recorded_at || "–") : clock(d.ts)),
      fact("stream", d.stream === null || d.stream === undefined ? "–" : String(d.stream)),
      fact("size", bytes((d.chunks || []).reduce((n, c) => n + chunkText(c.c).length, 0)))));
  const show = (name) => {
    currentTab = name;
    for (const b of tabs.children) b.classList.toggle("active", b.dataset.tab === name);
    content.replaceChildren(build(name));
  };
  const build = (name) => {
    if (name === "Transcript") return transcript(d, live);
    if (name === "Response") return responseTab(d);
    if (name === "Timing") {
      const w = waterfall(d);
      return el("div", { class: "timing" }, el("div", { html: w.svg }), el("div", { class: "facts" }, w.stats.map(([k, v]) => fact(k, v))));
    }
    if (name === "Raw") return el("div", { class: "raw" }, el("h4", { text: "Request body" }), jsonBlock(d.request_body ?? null), el("h4", { text: "Response body" }), rawResponse(d));
    if (name === "Headers") return el("div", {}, el("h4", { text: "Request headers" }), headersTable(d.request_headers), el("h4", { text: "Response headers" }), headersTable(d.response_headers));
    if (name === "Chunks") return chunksTable(d);
    return tapeTab(d, opts);
  };
  for (const name of TABS) tabs.append(el("button", { class: "dtab", "data-tab": name, role: "tab", text: name, onclick: () => show(name) }));
  root.replaceChildren(el("div", { class: "detail" }, head, tabs, content));
  show(TABS.includes(currentTab) ? currentTab : "Transcript");
  return {
    live(state) {
      const node = root.querySelector("#live-reply");
      if (node && currentTab === "Transcript") node.replaceWith(replyView({ ...d, state: "streaming" }, state));
    },
  };
}
