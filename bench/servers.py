"""The bench's own servers: a fake OpenAI upstream and the bare uvicorn limit.

Both are raw ASGI apps on uvicorn + httptools + uvloop, the same stack replaydeck
runs on, with the same uvicorn options (no access log, no Server or Date header),
so the limit is the ceiling for a Python replayer on this machine.

``upstream``: ``POST /v1/chat/completions`` answers as OpenAI would, as a pure
function of the request body (the reply echoes the last message):
  - ``"stream": false`` -> one chat.completion JSON body (601 bytes for the bench
    request);
  - ``"stream": true``  -> an SSE stream of ``x-bench-chunks`` events (default 20)
    then ``[DONE]``, ``x-bench-gap-ms`` between events (default 0) and
    ``x-bench-ttfb-ms`` before the first (default 0).
Headers steer the timing because replaydeck keeps headers out of the tape key.

``limit``: answers every request with fixed bytes read from files (status line
headers as JSON and the body), i.e. what replaydeck sends for a replayed tape.

Run as ``python bench/servers.py upstream|limit --port N [...]``; both bind
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

Scope = dict[str, Any]


def completion_body(text: str, model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench0001",
            "object": "chat.completion",
            "created": 1700000000,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 24, "total_tokens": 36},
        },
        separators=(",", ":"),
    ).encode()


def stream_events(text: str, model: str, n: int) -> list[bytes]:
    """``n`` SSE events (role, words, stop); the last one also carries ``[DONE]``."""
    words = text.split(" ")
    base = {"id": "chatcmpl-bench0001", "object": "chat.completion.chunk",
            "created": 1700000000, "model": model, "system_fingerprint": "fp_bench"}

    def frame(delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None,
                                   "finish_reason": finish}])
        return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

    out = [frame({"role": "assistant", "content": ""})]
    out += [frame({"content": words[i % len(words)] + " "}) for i in range(max(0, n - 2))]
    out.append(frame({}, "stop") + b"data: [DONE]\n\n")
    return out


def reply_text(req: dict[str, Any]) -> str:
    msgs = req.get("messages") or [{}]
    said = str(msgs[-1].get("content", ""))
    # padded so the bench request's reply is a typical small completion (601 bytes)
    filler = "Here is a short answer with a few words. " * 10
    return ("Sure. You said: " + said + ". " + filler)[:280]


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            return body


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


class Upstream:
    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] != "POST" or not scope["path"].endswith("/chat/completions"):
            await self.send(send, 404, b"application/json", [b'{"error":{"message":"not found"}}'])
            return
        try:
            req = json.loads(body)
        except ValueError:
            await self.send(send, 400, b"application/json", [b'{"error":{"message":"bad json"}}'])
            return
        model = str(req.get("model", "gpt-bench"))
        text = reply_text(req)
        if not req.get("stream"):
            await self.send(send, 200, b"application/json", [completion_body(text, model)])
            return
        n = int(headers.get("x-bench-chunks", "20"))
        gap = float(headers.get("x-bench-gap-ms", "0")) / 1000.0
        ttfb = float(headers.get("x-bench-ttfb-ms", "0")) / 1000.0
        await self.send(send, 200, b"text/event-stream", stream_events(text, model, n), ttfb, gap)

    async def send(self, send: Any, status: int, ctype: bytes, chunks: list[bytes],
                   ttfb: float = 0.0, gap: float = 0.0) -> None:
        if len(chunks) == 1 and not ttfb:
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", ctype), (b"content-length", str(len(chunks[0])).encode())]})
            await send({"type": "http.response.body", "body": chunks[0]})
            return
        loop = asyncio.get_running_loop()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype), (b"cache-control", b"no-cache")]})
        due = loop.time() + ttfb
        for i, chunk in enumerate(chunks):
            if i:
                due += gap
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


class Limit:
    """Fixed bytes for every request: the ceiling a replayer can approach."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.start = {"type": "http.response.start", "status": status,
                      "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        self.body = {"type": "http.response.body", "body": body}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        while True:  # drain the request body
            msg = await receive()
            if not msg.get("more_body"):
                break
        await send(self.start)
        await send(self.body)


def serve(app: Any, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                lifespan="on", access_log=False, log_level="warning", server_header=False,
                date_header=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["upstream", "limit"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--reply", type=Path, help="limit: JSON file {status, headers, body_file}")
    args = ap.parse_args()
    if args.kind == "upstream":
        serve(Upstream(), args.port)
        return
    spec = json.loads(args.reply.read_text())
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in spec["headers"]]
    serve(Limit(spec["status"], headers, Path(spec["body_file"]).read_bytes()), args.port)


if __name__ == "__main__":
    main()
