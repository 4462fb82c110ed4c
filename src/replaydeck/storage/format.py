"""The tape file format (pure: bytes in, Tape out, and back).

Format 1, a superset of playingpack 0.2/0.3's tapes::

    {"version": 1,
     "meta": {"id", "hash", "timestamp", "provider", "model", "endpoint", "summary"},
     "request": {"method", "route", "path", "query", "headers", "body", "stream"},
     "response": {"status", "headers", "chunks": [{"c": "<text>", "d": <ms>}, ...]}}

``c`` is the chunk's UTF-8 text, or ``{"$base64": "..."}`` when the bytes are not
valid UTF-8 (binary bodies, or a read that split a multi-byte character). ``d`` of
the first chunk is milliseconds from sending the request to the first byte; every
later ``d`` is the gap since the previous chunk. Request bodies that are not JSON
are stored as ``{"$base64": ...}`` too.

Older layouts are upgraded on read by ``migrate()`` (a chain of convert functions,
as mitmproxy does for its flow files); a newer version is refused with a clear
error rather than misread.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from replaydeck.errors import TapeCorrupt, TapeVersionError
from replaydeck.models import Chunk, Tape

FORMAT_VERSION = 1


def encode_bytes(data: bytes) -> Any:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"$base64": base64.b64encode(data).decode("ascii")}


def decode_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and isinstance(value.get("$base64"), str):
        return base64.b64decode(value["$base64"])
    raise ValueError(f"not a chunk payload: {str(value)[:60]}")


def stored_body_bytes(body: Any) -> bytes | None:
    """The bytes of a stored non-JSON request body, or None for a JSON body."""
    if isinstance(body, dict) and len(body) == 1:
        if isinstance(body.get("$base64"), str):
            return base64.b64decode(body["$base64"])
        if isinstance(body.get("$text"), str):
            return str(body["$text"]).encode("utf-8")
    return None


def tape_to_json(tape: Tape) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "meta": {
            "id": tape.id,
            "hash": tape.key,
            "timestamp": tape.recorded_at,
            "provider": tape.provider,
            "model": tape.model,
            "endpoint": tape.path,
            "summary": tape.summary,
            **({"sequence": tape.sequence} if tape.sequence else {}),
        },
        "request": {
            "method": tape.method,
            "route": tape.route,
            "path": tape.path,
            "query": tape.query,
            "headers": tape.request_headers,
            "body": tape.request_body,
            "stream": tape.stream,
        },
        "response": {
            "status": tape.status,
            "headers": tape.response_headers,
            "chunks": [
                {"c": encode_bytes(c.data), "d": round(c.delay_ms, 3)} for c in tape.chunks
            ],
        },
    }


def dump_tape(tape: Tape) -> bytes:
    return orjson.dumps(tape_to_json(tape), option=orjson.OPT_INDENT_2) + b"\n"


# ---------------------------------------------------------------- migrations


def _from_playingpack_tape(data: dict[str, Any]) -> dict[str, Any]:
    """playingpack 0.2/0.3: meta{id,hash,timestamp,model,endpoint}, request{body},
    response{status, chunks[{c,d}]}; the first d is always 0 (TTFB was not kept)."""
    meta = data.get("meta") or {}
    chunks = data["response"]["chunks"]
    text = "".join(c.get("c", "") for c in chunks if isinstance(c, dict))
    return {
        "version": 1,
        "legacy": "playingpack-0.3",
        "meta": {**meta, "provider": "openai-chat", "summary": {}},
        "request": {
            "method": "POST",
            "route": "",
            "path": meta.get("endpoint") or "/v1/chat/completions",
            "query": "",
            "headers": {"content-type": "application/json"},
            "body": (data.get("request") or {}).get("body"),
            "stream": None,
        },
        "response": {
            "status": data["response"].get("status", 200),
            "headers": {
                "content-type": "text/event-stream" if "data: " in text else "application/json"
            },
            "chunks": chunks,
        },
    }


def _from_playingpack_cache(data: dict[str, Any]) -> dict[str, Any]:
    """playingpack 0.5+: hash, timestamp, request{model,messages}, response{status,
    chunks[{data,delay}]}."""
    chunks = [{"c": c.get("data", ""), "d": c.get("delay", 0)} for c in data["response"]["chunks"]]
    req = data.get("request") or {}
    text = "".join(c["c"] for c in chunks)
    return {
        "version": 1,
        "legacy": "playingpack-0.5",
        "meta": {
            "id": data.get("hash", "")[:8],
            "hash": data.get("hash", ""),
            "timestamp": data.get("timestamp"),
            "provider": "openai-chat",
            "model": req.get("model"),
            "endpoint": "/v1/chat/completions",
            "summary": {},
        },
        "request": {
            "method": "POST",
            "route": "",
            "path": "/v1/chat/completions",
            "query": "",
            "headers": {"content-type": "application/json"},
            "body": req,
            "stream": None,
        },
        "response": {
            "status": data["response"].get("status", 200),
            "headers": {
                "content-type": "text/event-stream" if "data: " in text else "application/json"
            },
            "chunks": chunks,
        },
    }


def detect_version(data: Any) -> int | str:
    if not isinstance(data, dict):
        raise ValueError("a tape is a JSON object")
    if "version" in data:
        version = data["version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise ValueError(f"bad format version {version!r}")
        return version
    response = data.get("response")
    if isinstance(response, dict) and isinstance(response.get("chunks"), list):
        first = response["chunks"][0] if response["chunks"] else {}
        if "meta" in data or "c" in first:
            return "playingpack-0.3"
        if "data" in first or "hash" in data:
            return "playingpack-0.5"
    raise ValueError("not a tape: no version and no recognisable layout")


def migrate(data: Any) -> dict[str, Any]:
    """Upgrade any known layout to the current format version."""
    version = detect_version(data)
    if version == "playingpack-0.3":
        data = _from_playingpack_tape(data)
    elif version == "playingpack-0.5":
        data = _from_playingpack_cache(data)
    elif isinstance(version, int) and version > FORMAT_VERSION:
        raise TapeVersionError(
            f"tape format version {version} is newer than this replaydeck understands "
            f"(up to {FORMAT_VERSION}); upgrade replaydeck"
        )
    elif isinstance(version, int) and version < 1:
        raise ValueError(f"unknown tape format version {version}")
    # (future: elif version == 1: data = convert_1_to_2(data) ...)
    return data  # type: ignore[no-any-return]


def load_tape(raw: bytes, *, path: str | None = None) -> Tape:
    try:
        data = migrate(orjson.loads(raw))
        meta = data.get("meta") or {}
        req = data["request"]
        resp = data["response"]
        chunks = tuple(
            Chunk(decode_bytes(c["c"]), float(c.get("d", 0) or 0)) for c in resp["chunks"]
        )
        status = int(resp.get("status", 200))
        headers = {str(k).lower(): str(v) for k, v in (resp.get("headers") or {}).items()}
        return Tape(
            key=str(meta.get("hash", "")),
            id=str(meta.get("id") or meta.get("hash", "")[:8]),
            recorded_at=str(meta.get("timestamp") or ""),
            provider=str(meta.get("provider") or "generic"),
            method=str(req.get("method", "POST")).upper(),
            route=str(req.get("route", "")),
            path=str(req.get("path") or meta.get("endpoint") or "/"),
            query=str(req.get("query", "")),
            request_headers=dict(req.get("headers") or {}),
            request_body=req.get("body"),
            stream=req.get("stream"),
            status=status,
            response_headers=headers,
            chunks=chunks,
            summary=dict(meta.get("summary") or {}),
            model=meta.get("model"),
            version=FORMAT_VERSION,
            sequence=int(meta.get("sequence", 0) or 0),
            legacy=data.get("legacy"),
        )
    except TapeVersionError as exc:
        exc.path = path
        raise
    except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        where = f" {path}" if path else ""
        raise TapeCorrupt(f"tape{where} is corrupt: {exc}", path=path) from exc
