"""asgi-replay's log format (pure: bytes in, values out).

asgi-replay writes one JSON object per line, each one ASGI ``send`` message of
the recorded response, in order::

    {"type": "http.response.start", "status": 200, "headers": [[{"$base64": ...}, ...]]}
    {"type": "http.response.body", "body": {"$base64": "ZGF0YTog..."}, "more_body": true}
    ...

Every ``bytes`` value (header names and values, body pieces) is written as
``{"$base64": "..."}``. The log keeps chunk boundaries but no timing and no request.

Detection rule: a file is such a log when its first non-blank line is, on its own,
a JSON object whose ``type`` starts with ``http.response.``. A replaydeck tape is one
pretty-printed JSON document, whose first line (``{``) never parses alone.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from replaydeck.errors import TapeCorrupt
from replaydeck.models import Chunk


@dataclass(frozen=True, slots=True)
class LoggedResponse:
    status: int
    headers: tuple[tuple[str, str], ...]  # lower-case names, in order
    chunks: tuple[Chunk, ...]  # delay 0: the log keeps no timing


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("$base64"), str):
        return base64.b64decode(value["$base64"])
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _first_line(raw: bytes) -> bytes | None:
    for line in raw.splitlines():
        if line.strip():
            return line
    return None


def is_asgi_log(raw: bytes) -> bool:
    line = _first_line(raw)
    if line is None:
        return False
    try:
        first = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(first, dict) and str(first.get("type", "")).startswith("http.response.")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def parse_log(raw: bytes, *, path: str | None = None) -> LoggedResponse:
    """The response an asgi-replay log holds. Raises TapeCorrupt with the line at fault."""
    where = path or "asgi-replay log"
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    chunks: list[Chunk] = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            msg = _unwrap(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise TapeCorrupt(f"{where}: line {number} is not JSON: {exc}", path=path) from None
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "http.response.start":
            if status is not None:
                raise TapeCorrupt(f"{where}: line {number}: a second response start", path=path)
            try:
                status = int(msg["status"])
                headers = tuple(
                    (_text(k).lower(), _text(v)) for k, v in (msg.get("headers") or [])
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise TapeCorrupt(f"{where}: line {number}: bad response start ({exc})",
                                  path=path) from None
        elif kind == "http.response.body":
            if status is None:
                raise TapeCorrupt(f"{where}: line {number}: body before the response start",
                                  path=path)
            body = msg.get("body", b"")
            data = body if isinstance(body, bytes) else str(body).encode("utf-8")
            if data:
                chunks.append(Chunk(data, 0.0))
        else:
            # other ASGI messages (trailers, pathsend) carry nothing we replay
            continue
    if status is None:
        raise TapeCorrupt(f"{where}: no http.response.start message", path=path)
    return LoggedResponse(status, headers, tuple(chunks))
