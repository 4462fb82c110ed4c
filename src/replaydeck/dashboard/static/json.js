// JSON pretty-printing with syntax highlighting: escape first, then wrap tokens.

const TOKEN = /("(?:\\u[a-fA-F0-9]{4}|\\[^u]|[^\\"])*")(\s*:)?|\b(true|false|null)\b|-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?/g;

// only &, < and > are escaped: quotes must stay quotes for the tokenizer, and text
// content cannot break out of an element without < anyway
function escapeText(s) { return String(s).replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" }[c])); }

export function highlight(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  if (text === undefined) return "";
  return escapeText(text).replace(TOKEN, (m, str, colon, lit) => {
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
    try { return highlight(JSON.parse(value)); } catch { return escapeText(value); }
  }
  return highlight(value);
}

export function tryParse(text) {
  try { return { ok: true, value: JSON.parse(text) }; } catch { return { ok: false, value: text }; }
}
