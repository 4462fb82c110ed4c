"""A fake upstream for every provider: serves recorded wire bytes chosen by path and request.

The bytes come from ../shared/fixtures/wire/ (recorded traffic) or, where no recording
exists (e.g. an Anthropic non-streamed text reply), from tests/fakes/wire/, built by
hand from the shapes in wire-formats.md. Bodies go out in 37-byte pieces, so every
SDK sees events split across reads.

Which file: the provider by path; streamed or not by the request (body ``stream``,
Gemini's URL, Ollama's missing ``stream`` = true); tool call when the request
declares tools. Steering headers (kept out of the tape key):
  x-fake-status: N           answer N with the provider's recorded error body
  x-fake-fail: stream-error  a 200 stream that carries the provider's error event
  x-fake-fail: truncate      a stream cut before its end marker (connection closed cleanly)
  x-fake-fail: drop          send the first event, then drop the connection
  x-fake-fail: drop-mid      send half the first event, then drop the connection
  x-fake-fixture: NAME       serve this file instead (same provider family)
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from tests.fakes.asgi import lifespan, read_body
from tests.fakes.upstream import FIXTURES

OWN = Path(__file__).resolve().parent / "wire"

ERRORS = {"openai": "openai_error_400.json", "anthropic": "anthropic_error_529.json",
          "gemini": "gemini_error.json", "ollama": "ollama_error.json"}
STREAM_ERRORS = {"openai": "openai_chat_stream_error.sse",
                 "responses": "openai_responses_stream_error.sse",
                 "anthropic": "anthropic_stream_error.sse", "gemini": "gemini_stream_error.sse",
                 "ollama": "ollama_chat_stream_error.ndjson"}


def wire(name: str) -> bytes:
    own = OWN / name
    return own.read_bytes() if own.exists() else (FIXTURES / name).read_bytes()


def content_type(name: str) -> str:
    if name.endswith(".sse"):
        return "text/event-stream"
    if name.endswith(".ndjson"):
        return "application/x-ndjson"
    return "application/json"


def choose(path: str, body: dict[str, Any]) -> tuple[str, str, bool]:
    """(family, fixture file, streamed) for a request."""
    tools = bool(body.get("tools"))
    stream = bool(body.get("stream"))
    if path.endswith("/chat/completions"):
        name = {(True, False): "openai_chat_stream_text_usage.sse",
                (True, True): "openai_chat_stream_toolcall.sse",
                (False, False): "openai_chat_nonstream_text.json",
                (False, True): "openai_chat_nonstream_toolcall.json"}[(stream, tools)]
        return "openai", name, stream
    if path.endswith("/responses"):
        kind = "function_call" if tools else "text"
        name = f"openai_responses_{'stream' if stream else 'nonstream'}_{kind}"
        return "responses", name + (".sse" if stream else ".json"), stream
    if path.endswith("/embeddings"):
        return "openai", "openai_embeddings.json", False
    if path.endswith("/v1/messages"):
        kind = "tooluse" if tools else "text"
        name = f"anthropic_{'stream' if stream else 'nonstream'}_{kind}"
        return "anthropic", name + (".sse" if stream else ".json"), stream
    if ":generateContent" in path or ":streamGenerateContent" in path:
        stream = ":streamGenerateContent" in path
        kind = "function_call" if tools else "text"
        name = f"gemini_{'stream' if stream else 'nonstream'}_{kind}"
        return "gemini", name + (".sse" if stream else ".json"), stream
    if path.endswith("/api/chat"):
        stream = body.get("stream", True) is not False
        kind = "toolcall" if tools else "text"
        name = f"ollama_chat_{'stream' if stream else 'nonstream'}_{kind}"
        return "ollama", name + (".ndjson" if stream else ".json"), stream
    raise LookupError(path)


def float_embeddings() -> bytes:
    return json.dumps({"object": "list", "data": [
        {"object": "embedding", "index": 0, "embedding": [1.0, 2.0, 3.0]}],
        "model": "text-embedding-3-small", "usage": {"prompt_tokens": 2, "total_tokens": 2}}
    ).encode()


def truncate(data: bytes, ctype: str) -> bytes:
    """Drop the last event (SSE) or line (NDJSON): what a broken upstream leaves."""
    sep = b"\n" if ctype == "application/x-ndjson" else (b"\r\n\r\n" if b"\r\n\r\n" in data
                                                          else b"\n\n")
    events = [e for e in data.split(sep) if e.strip()]
    return sep.join(events[:-1]) + sep


def drop_point(data: bytes, ctype: str, fail: str | None) -> int | None:
    """Where a dropping upstream stops: after the first event, or inside it."""
    if fail not in ("drop", "drop-mid"):
        return None
    sep = b"\n" if ctype == "application/x-ndjson" else (b"\r\n\r\n" if b"\r\n\r\n" in data
                                                          else b"\n\n")
    end = data.index(sep) + len(sep)
    return end if fail == "drop" else end // 2


class ProviderUpstream:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        raw = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        body = json.loads(raw) if raw else {}
        call = {"method": scope["method"], "path": scope["path"],
                "query": scope["query_string"].decode(), "headers": headers, "body": body}
        with self.lock:
            self.calls.append(call)
        try:
            family, name, stream = choose(scope["path"], body if isinstance(body, dict) else {})
        except LookupError:
            await self.send(send, 404, "application/json", b'{"error":"no such fake route"}')
            return
        if "x-fake-status" in headers:
            fam = "openai" if family == "responses" else family
            await self.send(send, int(headers["x-fake-status"]), "application/json",
                            wire(ERRORS[fam]), [(b"request-id", b"req_fake_err")])
            return
        if "x-fake-fixture" in headers:
            name = headers["x-fake-fixture"]
            stream = content_type(name) != "application/json"
        fail = headers.get("x-fake-fail")
        if fail == "stream-error" and stream:
            name = STREAM_ERRORS[family]
        data = wire(name)
        if name == "openai_embeddings.json" and body.get("encoding_format") == "float":
            data = float_embeddings()
        ctype = content_type(name)
        if fail == "truncate" and stream:
            data = truncate(data, ctype)
        await self.send(send, 200, ctype, data, [(b"x-request-id", b"req_fake_1")],
                        drop_at=drop_point(data, ctype, fail) if stream else None)

    async def send(self, send: Any, status: int, ctype: str, data: bytes,
                   extra: list[tuple[bytes, bytes]] | None = None,
                   drop_at: int | None = None) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype.encode()), *(extra or [])]})
        if drop_at is not None:
            data = data[:drop_at]
        for i in range(0, len(data), 37):
            await send({"type": "http.response.body", "body": data[i:i + 37], "more_body": True})
        if drop_at is not None:
            raise RuntimeError("fake upstream drops the connection mid-stream")
        await send({"type": "http.response.body", "body": b"", "more_body": False})
