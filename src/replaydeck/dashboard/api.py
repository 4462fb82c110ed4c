"""The dashboard's JSON control API (described in ``openapi.py``; the UI calls only this).

Rules:
* Every handler answers JSON with ``cache-control: no-store`` and never a CORS header.
* Errors are ``{"error": {"message", "type"}}`` with a fitting status; a bad query
  parameter is a 400 naming the parameter, never a 500.
* Disk and SQLite work runs in a worker thread; the proxy's event loop stays free.
* Everything here reads redacted data only (events, history rows, tapes).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from replaydeck.errors import TapeError
from replaydeck.history import Filters, History, HistoryRecorder
from replaydeck.matching import diff, explain_miss, nearest
from replaydeck.settings import Mode, Timing

from . import shapes
from .openapi import SPEC


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def json_response(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status, media_type="application/json",
                    headers={"cache-control": "no-store", "x-content-type-options": "nosniff"})


def error_response(status: int, message: str, kind: str) -> Response:
    return json_response({"error": {"message": message, "type": kind}}, status)


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}")
    return value


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        value = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "body must be a JSON object")
    return value


class Api:
    def __init__(self, proxy: Any, history: History | None, recorder: HistoryRecorder) -> None:
        self.proxy = proxy
        self.history = history
        self.recorder = recorder

    # ------------------------------------------------------------ requests

    async def list_requests(self, request: Request) -> Response:
        p = request.query_params
        tools_raw = p.get("tools", "")
        if tools_raw not in ("", "true", "false", "1", "0"):
            raise ApiError(400, "tools must be true or false")
        f = Filters(q=p.get("q", ""), model=p.get("model", ""), provider=p.get("provider", ""),
                    source=p.get("source", ""), status=p.get("status", ""),
                    tools=None if tools_raw == "" else tools_raw in ("true", "1"))
        if f.status not in ("", "ok", "error") and not f.status.isdigit():
            raise ApiError(400, "status must be ok, error or an HTTP status code")
        before = None
        if p.get("before"):
            ts, sep, rid = p["before"].partition(":")
            try:
                before = (float(ts), rid)
            except ValueError:
                raise ApiError(400, "before must be a cursor from a previous page") from None
            if not sep:
                raise ApiError(400, "before must be a cursor from a previous page")
        limit = _int(request, "limit", 100, 1, 1000)
        if self.history is None:
            return json_response({"items": [], "total": 0, "next": None})
        items, total = await asyncio.to_thread(self.history.query, f, before, limit)
        nxt = f"{items[-1]['ts']}:{items[-1]['id']}" if len(items) == limit else None
        return json_response({"items": items, "total": total, "next": nxt})

    async def _entry(self, rid: str) -> dict[str, Any]:
        entry = self.recorder.lookup(rid)
        if entry is None and self.history is not None:
            entry = await asyncio.to_thread(self.history.get, rid)
        if entry is None:
            raise ApiError(404, f"no request {rid} in the history", "not_found")
        return entry

    async def get_request(self, request: Request) -> Response:
        entry = await self._entry(request.path_params["rid"])
        entry = dict(entry)
        entry["tape_exists"] = bool(entry.get("key")) and await asyncio.to_thread(
            self.proxy.store.exists, entry["key"])
        return json_response(entry)

    async def request_curl(self, request: Request) -> Response:
        entry = await self._entry(request.path_params["rid"])
        return json_response({"curl": shapes.curl(entry, str(request.base_url))})

    async def request_nearest(self, request: Request) -> Response:
        entry = await self._entry(request.path_params["rid"])
        return json_response(await asyncio.to_thread(self._nearest, entry))

    def _nearest(self, entry: dict[str, Any]) -> dict[str, Any]:
        px = self.proxy
        route, path = px.router.match((entry.get("route") or "") + (entry.get("path") or "/"))
        headers = tuple((k, str(v)) for k, v in (entry.get("request_headers") or {}).items())
        req = px.build(entry.get("method") or "POST", route, path, entry.get("query") or "",
                       headers, shapes.body_bytes(entry.get("request_body")))
        key = entry.get("key") or req.key
        exact = px.store.get(key) if px.store.exists(key) else None
        near = nearest(req.material, [c for c in px.candidates() if c[1] != key])
        return {
            "key": key, "exact": exact.id if exact else None,
            "explanation": explain_miss(key, req.record.method, req.record.path, near),
            "nearest": [n.to_json() for n in near],
        }

    async def clear_requests(self, request: Request) -> Response:
        n = await asyncio.to_thread(self.history.clear) if self.history else 0
        return json_response({"deleted": n})

    async def facets(self, request: Request) -> Response:
        if self.history is None:
            return json_response({"model": [], "provider": [], "source": []})
        return json_response(await asyncio.to_thread(self.history.facets))

    async def series(self, request: Request) -> Response:
        try:
            since = float(request.query_params.get("since") or 0)
        except ValueError:
            raise ApiError(400, "since must be a unix time in seconds") from None
        if self.history is None:
            return json_response({"points": []})
        return json_response({"points": await asyncio.to_thread(self.history.series, since)})

    # ------------------------------------------------------------ tapes

    def _tapes(self, q: str, offset: int, limit: int) -> dict[str, Any]:
        store = self.proxy.store
        keys = store.recent_keys(1_000_000)
        rows: list[dict[str, Any]] = []
        matched = 0
        usage = shapes.usage_map(store)
        for key in keys:
            try:
                tape = store.get(key)
                size = os.stat(store.path(key)).st_size
            except (TapeError, FileNotFoundError):
                continue
            if tape is None:
                continue
            row = shapes.tape_row(tape, key, size, usage, key in self.proxy.rerecord)
            if q and q.lower() not in orjson.dumps(row).decode().lower():
                continue
            matched += 1
            if offset < matched <= offset + limit:
                rows.append(row)
        return {"items": rows, "total": matched}

    async def list_tapes(self, request: Request) -> Response:
        offset = _int(request, "offset", 0, 0, 10_000_000)
        limit = _int(request, "limit", 200, 1, 1000)
        q = request.query_params.get("q", "")
        return json_response(await asyncio.to_thread(self._tapes, q, offset, limit))

    def _tape(self, key: str) -> Any:
        if not key or "/" in key or "\\" in key or key.startswith("."):
            raise ApiError(400, "not a tape key")
        try:
            tape = self.proxy.store.get(key)
        except TapeError as exc:
            raise ApiError(422, str(exc), "tape_corrupt") from None
        if tape is None:
            raise ApiError(404, f"no tape {key}", "not_found")
        return tape

    async def get_tape(self, request: Request) -> Response:
        key = request.path_params["key"]
        tape = await asyncio.to_thread(self._tape, key)
        summary = tape.summary or self.proxy.registry.get(tape.provider).summarize_tape(tape).to_json()
        detail = shapes.tape_detail(tape, key, summary)
        detail["rerecord"] = key in self.proxy.rerecord
        detail["hits"], detail["last_used"] = shapes.tape_usage(
            await asyncio.to_thread(shapes.usage_map, self.proxy.store), key)
        return json_response(detail)

    async def delete_tape(self, request: Request) -> Response:
        key = request.path_params["key"]
        await asyncio.to_thread(self._tape, key)
        deleted = await asyncio.to_thread(self.proxy.store.delete, key)
        self.proxy.rerecord.discard(key)
        self.proxy.bus.publish({"type": "tapes"})
        return json_response({"deleted": deleted, "key": key})

    async def mark_rerecord(self, request: Request) -> Response:
        key = request.path_params["key"]
        await asyncio.to_thread(self._tape, key)
        self.proxy.rerecord.add(key)
        self.proxy.bus.publish({"type": "tapes"})
        return json_response({"key": key, "rerecord": True})

    async def unmark_rerecord(self, request: Request) -> Response:
        key = request.path_params["key"]
        self.proxy.rerecord.discard(key)
        self.proxy.bus.publish({"type": "tapes"})
        return json_response({"key": key, "rerecord": False})

    async def diff_tapes(self, request: Request) -> Response:
        a_key, b_key = request.query_params.get("a", ""), request.query_params.get("b", "")
        if not a_key or not b_key:
            raise ApiError(400, "give two tape keys as a and b")
        a, b = await asyncio.to_thread(self._tape, a_key), await asyncio.to_thread(self._tape, b_key)
        px = self.proxy
        request_diff = diff(px.tape_material(a), px.tape_material(b), limit=200)
        sa = a.summary or {}
        sb = b.summary or {}
        reply = {k: {"a": sa.get(k), "b": sb.get(k)}
                 for k in ("text", "tool_calls", "stop_reason", "usage") if sa.get(k) != sb.get(k)}
        return json_response({
            "a": {"key": a_key, "id": a.id}, "b": {"key": b_key, "id": b.id},
            "request": [{"field": d.path, "a": d.ours, "b": d.theirs} for d in request_diff],
            "response": reply,
        })

    # ------------------------------------------------------------ settings

    def _settings(self) -> dict[str, Any]:
        rt = self.proxy.runtime
        s = self.proxy.settings
        return {"mode": rt.mode.value, "timing": str(rt.timing), "modes": [m.value for m in Mode],
                "upstream": s.upstream, "tapes_dir": str(s.tapes_dir),
                "history": str(s.history_path) if self.history else None,
                "session": self.recorder.session}

    async def get_settings(self, request: Request) -> Response:
        return json_response(self._settings())

    async def update_settings(self, request: Request) -> Response:
        body = await _json_body(request)
        unknown = set(body) - {"mode", "timing"}
        if unknown:
            raise ApiError(400, f"unknown settings {sorted(unknown)}; changeable: mode, timing")
        mode, timing = self.proxy.runtime.mode, self.proxy.runtime.timing
        if "mode" in body:
            try:
                mode = Mode(body["mode"])
            except ValueError:
                raise ApiError(400, f"mode must be one of {[m.value for m in Mode]}") from None
        if "timing" in body:
            try:
                timing = Timing.parse(body["timing"])
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
        self.proxy.runtime.mode, self.proxy.runtime.timing = mode, timing
        out = self._settings()
        self.proxy.bus.publish({"type": "settings", "mode": out["mode"], "timing": out["timing"]})
        return json_response(out)

    async def openapi(self, request: Request) -> Response:
        return json_response(SPEC)
