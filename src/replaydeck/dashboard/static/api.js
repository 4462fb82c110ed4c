// The control API client, built from the server's OpenAPI document: every call is
// looked up by operationId, so the UI uses exactly the API scripts can use.
const BASE = "/__replaydeck/api";
let ops = null;

export async function loadSpec() {
  const res = await fetch(BASE + "/openapi.json", { credentials: "same-origin" });
  const spec = await res.json();
  ops = {};
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      ops[op.operationId] = { method: method.toUpperCase(), path, params: op.parameters || [] };
    }
  }
  return spec;
}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function call(opId, params = {}, body = undefined) {
  const op = ops && ops[opId];
  if (!op) throw new ApiError(0, `unknown operation ${opId}`);
  let path = op.path;
  const query = new URLSearchParams();
  for (const p of op.params) {
    const v = params[p.name];
    if (v === undefined || v === null || v === "") continue;
    if (p.in === "path") path = path.replace(`{${p.name}}`, encodeURIComponent(v));
    else query.set(p.name, String(v));
  }
  const qs = query.toString();
  const init = { method: op.method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const res = await fetch(BASE + path + (qs ? "?" + qs : ""), init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, (data.error && data.error.message) || res.statusText);
  return data;
}
