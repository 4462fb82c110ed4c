"""What the dashboard sends to the browser, built from events, history rows and tapes (pure).

Rules:
* A history entry and a tape become the same *detail* shape, so the browser has
  one detail view for both (request, response summary, headers, chunks, tape).
* Only redacted data goes out: the proxy redacts events before publishing, and
  tapes are redacted before they are written. Request headers that were secret
  arrive here already masked; copy-as-curl turns them into shell variables.
* Live events are trimmed for the wire: bodies and chunks stay on the server
  (the browser fetches a detail when it opens one).
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Any

import orjson

from replaydeck.history import merge, row_summary
from replaydeck.models import Tape
from replaydeck.redaction import MASK
from replaydeck.storage.format import encode_bytes, stored_body_bytes

#: headers left out of copy-as-curl: set by curl itself, or SDK noise
_CURL_SKIP = frozenset({"host", "content-length", "connection", "accept-encoding", "user-agent",
                        "transfer-encoding"})

#: a masked secret header becomes the environment variable people keep that key in
_SECRET_ENV = {
    "authorization": ("Authorization", "Bearer ${env}"),
    "x-api-key": ("x-api-key", "${env}"),
    "api-key": ("api-key", "${env}"),
    "x-goog-api-key": ("x-goog-api-key", "${env}"),
}
_EXPECTED_SOURCE = {"replay": "tape", "forward": "upstream", "join": "joined", "miss": "miss"}
_PROVIDER_ENV = {"anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}


def browser_event(ev: dict[str, Any], hid: str) -> dict[str, Any] | None:
    """A bus event as the live list needs it (None: nothing to show)."""
    kind = ev.get("type")
    if kind == "request.started":
        row = row_summary({**ev, "id": hid, "state": "pending"})
        row["decision"] = ev.get("decision")
        # the source to expect until the completed event says what really happened
        row["source"] = _EXPECTED_SOURCE.get(str(ev.get("decision")))
        return {"type": "started", "row": row}
    if kind == "request.completed":
        row = row_summary(merge(None, {**ev, "id": hid}))
        # fields only the started event knows stay as the browser has them
        for k in ("method", "path", "provider", "route", "stream", "ts"):
            row.pop(k, None)
        if row.get("model") is None:
            row.pop("model", None)
        return {"type": "completed", "row": row}
    if kind == "gap":
        return {"type": "gap", "dropped": ev.get("dropped", 0)}
    if kind in ("settings", "tapes"):
        return ev
    return None


def recorded_ts(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def usage_map(store: Any) -> dict[str, Any] | None:
    """Every tape's usage counters when the store keeps them (one file read), else None."""
    usage = getattr(store, "usage", None)
    if usage is None or not hasattr(usage, "all"):
        return None
    try:
        return dict(usage.all())
    except Exception:  # counters are a nicety; a failure must not break the tape list
        return None


def tape_usage(usage: dict[str, Any] | None, key: str) -> tuple[int | None, float | None]:
    """(hits, last used as unix seconds); (None, None) without counters, (0, None) unused."""
    if usage is None:
        return None, None
    u = usage.get(key)
    if u is None:
        return 0, None
    return getattr(u, "hits", None), getattr(u, "last_used", None)


def tape_row(tape: Tape, key: str, size: int, usage: dict[str, Any] | None,
             marked: bool) -> dict[str, Any]:
    hits, last = tape_usage(usage, key)
    summary = tape.summary or {}
    return {
        "key": key, "id": tape.id, "provider": tape.provider, "method": tape.method,
        "endpoint": tape.route + tape.path, "model": tape.model or summary.get("model"),
        "recorded_at": tape.recorded_at, "size": size, "status": tape.status,
        "stream": tape.stream, "chunks": len(tape.chunks), "hits": hits, "last_used": last,
        "text": str(summary.get("text") or "")[:200],
        "tools": [c.get("name", "") for c in summary.get("tool_calls") or []],
        "rerecord": marked, "legacy": tape.legacy,
    }


def tape_detail(tape: Tape, key: str, summary: dict[str, Any]) -> dict[str, Any]:
    """A tape in the same shape as a history entry."""
    chunks = [{"c": encode_bytes(c.data), "d": c.delay_ms} for c in tape.chunks]
    return {
        "id": f"tape:{key}", "key": key, "tape": tape.id, "ts": recorded_ts(tape.recorded_at),
        "recorded_at": tape.recorded_at, "source": "tape", "state": "complete",
        "method": tape.method, "route": tape.route, "path": tape.path, "query": tape.query,
        "provider": tape.provider, "model": tape.model or summary.get("model"),
        "stream": tape.stream, "status": tape.status,
        "request_headers": dict(tape.request_headers), "request_body": tape.request_body,
        "response_headers": dict(tape.response_headers), "summary": summary, "chunks": chunks,
        "ttfb_ms": chunks[0]["d"] if chunks else None,
        "duration_ms": round(sum(c.delay_ms for c in tape.chunks), 3), "legacy": tape.legacy,
    }


def body_bytes(value: Any) -> bytes:
    """A request body as the event carried it, back to bytes."""
    if value is None:
        return b""
    raw = stored_body_bytes(value)
    return raw if raw is not None else orjson.dumps(value)


def curl(entry: dict[str, Any], base_url: str) -> str:
    """A copy-as-curl command. Secrets are never in it: they become $VARIABLES."""
    url = base_url.rstrip("/") + (entry.get("route") or "") + (entry.get("path") or "/")
    if entry.get("query"):
        url += "?" + str(entry["query"])
    lines = [f"curl {shlex.quote(url)}"]
    method = str(entry.get("method") or "GET")
    body = entry.get("request_body")
    if method != ("POST" if body is not None else "GET"):
        lines.append(f"-X {method}")
    env = _PROVIDER_ENV.get(str(entry.get("route") or "").strip("/"), "OPENAI_API_KEY")
    for name, value in (entry.get("request_headers") or {}).items():
        if name in _CURL_SKIP or name.startswith("x-stainless"):
            continue
        if name in _SECRET_ENV:
            title, shape = _SECRET_ENV[name]
            lines.append(f'-H "{title}: {shape.replace("{env}", env)}"')
        elif value == MASK:
            continue  # another secret header: leave it out rather than send a mask
        else:
            lines.append(f"-H {shlex.quote(f'{name}: {value}')}")
    if body is not None:
        raw = stored_body_bytes(body)
        if raw is not None:
            text = raw.decode("utf-8", "replace")
        else:
            text = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
        lines.append(f"--data-raw {shlex.quote(text)}")
    if entry.get("stream"):
        lines.append("--no-buffer")
    return " \\\n  ".join(lines)
