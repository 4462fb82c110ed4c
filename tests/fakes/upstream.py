"""A fake upstream for tests: an ASGI app that speaks like OpenAI (and echoes anything else).

Behaviour is steered by request headers, which stay out of the tape key:
  x-fake-gap-ms: N         gap between streamed chunks (default 0)
  x-fake-ttfb-ms: N        delay before the first byte
  x-fake-status: N         answer with this status and an OpenAI error body
  x-fake-fail: mid-stream  send part of the stream, then drop the connection
  x-fake-fail: no-done     end a stream cleanly but without [DONE]
  x-fake-gzip: 1           gzip the body (content-encoding: gzip)
  x-fake-fixture: NAME     serve ../shared/fixtures/wire/NAME byte for byte
Every request is appended to ``calls`` for assertions.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from pathlib import Path
from typing import Any

from tests.fakes.asgi import lifespan, read_body

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "wire"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def chat_text_chunks(text: str, model: str, usage: bool) -> list[bytes]:
    base = {"id": "chatcmpl-fake1", "object": "chat.completion.chunk", "created": 1700000000,
            "model": model, "system_fingerprint": "fp_fake"}
    words = [w + " " for w in text.split(" ")]
    words[-1] = words[-1].rstrip()
    out = []

    def frame(delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])
        if usage:
            obj["usage"] = None
        return b"data: " + json.dumps(obj).encode() + b"\n\n"

    out.append(frame({"role": "assistant", "content": ""}))
    for w in words:
        out.append(frame({"content": w}))
    out.append(frame({}, "stop"))
    if usage:
        obj = dict(base, choices=[], usage={"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 5 + len(words)})
        out.append(b"data: " + json.dumps(obj).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out


def chat_text_body(text: str, model: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-fake1", "object": "chat.completion", "created": 1700000000, "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }).encode()


class FakeUpstream:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.cancelled = 0
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        call = {"method": scope["method"], "path": scope["path"],
                "raw_path": (scope.get("raw_path") or b"").decode("latin-1"),
                "query": scope["query_string"].decode(), "headers": headers, "body": body,
                "raw_headers": [(k.decode().lower(), v.decode()) for k, v in scope["headers"]]}
        with self.lock:
            self.calls.append(call)
        gone = asyncio.Event()

        async def watch() -> None:  # uvicorn does not cancel an app whose client left
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        try:
            await self.respond(call, send, gone)
        finally:
            watcher.cancel()

    async def respond(self, call: dict[str, Any], send: Any, gone: asyncio.Event) -> None:
        h = call["headers"]
        gap = float(h.get("x-fake-gap-ms", 0)) / 1000
        ttfb = float(h.get("x-fake-ttfb-ms", 0)) / 1000
        gz = h.get("x-fake-gzip") == "1"
        try:
            req = json.loads(call["body"]) if call["body"] else {}
        except ValueError:
            req = {}
        if "x-fake-status" in h:
            status = int(h["x-fake-status"])
            body = json.dumps({"error": {"message": f"fake error {status}", "type": "server_error",
                                         "param": None, "code": None}}).encode()
            await self.send_all(send, status, "application/json", [body], 0, 0, gz,
                                extra=[(b"x-request-id", b"req_fake_err")])
            return
        if "x-fake-fixture" in h:
            name = h["x-fake-fixture"]
            data = fixture_bytes(name)
            ctype = ("text/event-stream" if name.endswith(".sse") else
                     "application/x-ndjson" if name.endswith(".ndjson") else "application/json")
            pieces = [data[i:i + 37] for i in range(0, len(data), 37)]
            await self.send_all(send, 200, ctype, pieces, ttfb, gap, gz)
            return
        path = call["path"]
        if path.endswith("/chat/completions") and call["method"] == "POST":
            model = req.get("model", "gpt-test")
            msgs = req.get("messages") or [{}]
            text = "You said: " + str(msgs[-1].get("content", ""))
            if req.get("stream"):
                usage = bool((req.get("stream_options") or {}).get("include_usage"))
                chunks = chat_text_chunks(text, model, usage)
                fail = h.get("x-fake-fail")
                if fail == "no-done":
                    chunks = chunks[:-1]
                await self.send_all(send, 200, "text/event-stream", chunks, ttfb, gap, gz,
                                    drop_after=3 if fail == "mid-stream" else None, gone=gone)
            else:
                await self.send_all(send, 200, "application/json", [chat_text_body(text, model)],
                                    ttfb, 0, gz, extra=[(b"x-request-id", b"req_fake_1"),
                                                        (b"set-cookie", b"session=secret-cookie")])
            return
        if path.endswith("/models") and call["method"] == "GET":
            await self.send_all(send, 200, "application/json", [fixture_bytes("openai_models.json")], 0, 0, gz)
            return
        echo = {"method": call["method"], "path": path, "query": call["query"],
                "body": call["body"].decode("latin-1"),
                "headers": {k: v for k, v in h.items() if not k.startswith("x-fake")}}
        await self.send_all(send, 200, "application/json", [json.dumps(echo).encode()], 0, 0, gz)

    async def send_all(self, send: Any, status: int, ctype: str, chunks: list[bytes], ttfb: float,
                       gap: float, gz: bool, extra: list[tuple[bytes, bytes]] | None = None,
                       drop_after: int | None = None, gone: asyncio.Event | None = None) -> None:
        headers = [(b"content-type", ctype.encode())] + (extra or [])
        if gz:
            comp = gzip.compress(b"".join(chunks))
            chunks = [comp[: len(comp) // 2], comp[len(comp) // 2:]]
            headers.append((b"content-encoding", b"gzip"))
        if ttfb:  # like a real API: nothing, not even headers, until the first token
            await asyncio.sleep(ttfb)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for i, c in enumerate(chunks):
            if drop_after is not None and i == drop_after:
                raise RuntimeError("fake upstream drops the connection mid-stream")
            if i and gap:
                await asyncio.sleep(gap)
            if gone is not None and gone.is_set():
                self.cancelled += 1  # the proxy hung up on us: stop generating
                return
            await send({"type": "http.response.body", "body": c, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
