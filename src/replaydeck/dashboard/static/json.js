// JSON pretty-printing with syntax highlighting: escape first, then wrap tokens.
import { escapeHtml } from "./util.js";

const TOKEN = /("(?:\\u[a-fA-F0-9]{4}|\\[^u]|[^\\"])*")(\s*:)?|\b(true|false|null)\b|-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?/g;

export function highlight(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  if (text === undefined) return "";
  return escapeHtml(text).replace(TOKEN, (m, str, colon, lit) => {
    if (str) {
      return colon ? `<span class="j-key">${str}</span>${colon}` : `<span class="j-str">${str}</span>`;
    }
    if (lit) return `<span class="j-lit">${m}</span>`;
    return `<span class="j-num">${m}</span>`;
  });
}

// A value that may be a JSON string (tool call arguments) shown as pretty JSON.
export function pretty(value) {
  if (typeof value === "string") {
    try { return highlight(JSON.parse(value)); } catch { return escapeHtml(value); }
  }
  return highlight(value);
}

export function tryParse(text) {
  try { return { ok: true, value: JSON.parse(text) }; } catch { return { ok: false, value: text }; }
}
