"""A request given on the command line (``tapes why REQUEST.json``, ``tapes import --request``).

Accepted shapes, checked in this order:
1. a replaydeck tape: its recorded request;
2. an object with ``body`` and at least one of ``method``, ``path``, ``url``:
   ``{"method": "POST", "path": "/v1/chat/completions", "query": "", "headers": {...},
   "body": {...}}`` (``url`` may replace ``path`` + ``query``; ``body`` may be a JSON
   value or, for a non-JSON body, a string sent as is);
3. anything else is the JSON body of ``POST /v1/chat/completions`` (what
   playingpack users have at hand).

A request id from the history (``.replaydeck/history.db``, what the dashboard
lists) gives the request as the proxy logged it: redacted, so a request whose body
carried a secret gets another key than the one it had (``history_key`` says which).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from replaydeck.errors import ConfigError, TapeError
from replaydeck.redaction import MASK
from replaydeck.storage.format import load_tape, stored_body_bytes


@dataclass(frozen=True, slots=True)
class RequestSpec:
    method: str
    raw_path: str  # as the client sends it to the proxy, route prefix included
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def spec_from_json(data: Any, where: str = "request") -> RequestSpec:
    if isinstance(data, dict) and {"meta", "request", "response"} <= set(data):
        try:
            tape = load_tape(orjson.dumps(data), path=where)
        except TapeError as exc:
            raise ConfigError(str(exc)) from None
        raw = stored_body_bytes(tape.request_body)
        body = raw if raw is not None else (
            b"" if tape.request_body is None else orjson.dumps(tape.request_body))
        return RequestSpec(tape.method, tape.route + tape.path, tape.query,
                           tuple(tape.request_headers.items()), body)
    if isinstance(data, dict) and "body" in data and {"method", "path", "url"} & set(data):
        path = str(data.get("path") or "/")
        query = str(data.get("query") or "")
        if data.get("url"):
            parts = urlsplit(str(data["url"]))
            path, query = parts.path or "/", parts.query
        headers = data.get("headers") or {}
        if not isinstance(headers, dict):
            raise ConfigError(f"{where}: headers must be an object of name: value")
        value = data["body"]
        body = value.encode("utf-8") if isinstance(value, str) else (
            b"" if value is None else orjson.dumps(value))
        return RequestSpec(str(data.get("method") or "POST").upper(), path, query.lstrip("?"),
                           tuple((str(k).lower(), str(v)) for k, v in headers.items()), body)
    return RequestSpec("POST", "/v1/chat/completions", "",
                       (("content-type", "application/json"),), orjson.dumps(data))


def load_spec(path: Path) -> RequestSpec:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from None
    return spec_from_json(data, str(path))


def spec_from_history(entry: dict[str, Any]) -> RequestSpec:
    """The request of a history entry (as the proxy published it: redacted)."""
    value = entry.get("request_body")
    raw = stored_body_bytes(value)
    body = raw if raw is not None else (b"" if value is None else orjson.dumps(value))
    headers = {str(k).lower(): str(v) for k, v in (entry.get("request_headers") or {}).items()
               if str(v) != MASK}  # masked secrets are never part of a key anyway
    return RequestSpec(str(entry.get("method") or "POST").upper(),
                       str(entry.get("route") or "") + str(entry.get("path") or "/"),
                       str(entry.get("query") or ""), tuple(headers.items()), body)


def load_from_history(history_path: Path, rid: str) -> tuple[RequestSpec, str | None]:
    """(request, the key the proxy computed then) for a request id from the history."""
    if not history_path.is_file():
        raise ConfigError(f"{rid!r} is not a file, and there is no request history at "
                          f"{history_path} to look it up in")
    from replaydeck.history import History

    history = History(history_path)
    try:
        entry = history.get(rid)
    finally:
        history.close()
    if entry is None:
        raise ConfigError(f"{rid!r} is neither a file nor a request id in {history_path}")
    key = entry.get("key")
    return spec_from_history(entry), str(key) if key else None
