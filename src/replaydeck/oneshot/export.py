"""``replaydeck export``: one recorded interaction as a standalone ASGI app (source code).

Rules for the generated module:
1. Standard library only (``asyncio``, ``base64``, ``os``), and no replaydeck
   import: it must run wherever an ASGI server runs, with replaydeck absent.
2. The data is embedded as Python literals (``repr`` of str/int/float only), so
   the file needs no companion data file and no parser beyond Python's own.
   Text chunks stay readable; bytes that are not UTF-8 are base64.
3. It replays the way ``replaydeck replay`` does: every HTTP request gets the
   recorded status, headers and body, streamed chunk by chunk on an absolute
   schedule of the recorded delays. ``REPLAY_TIMING`` (``original``, ``instant``
   or a factor) sets the pacing at run time.
4. The source is compiled before it is written, and written atomically.
"""

from __future__ import annotations

import pprint
from pathlib import Path

from replaydeck._version import __version__
from replaydeck.models import Tape
from replaydeck.proxy.replay import tape_is_stream
from replaydeck.storage.filesystem import write_atomic

#: never replayed from a recording: framing is recomputed by the server
_SKIP_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding",
                           "connection", "keep-alive"})

_TEMPLATE = '''\
"""A recorded HTTP interaction, replayed as a standalone ASGI app.

Exported by replaydeck {version} from {source}.
Standard library only. Serve it with any ASGI server, e.g.::

    uvicorn {module}:app --port 8000

Every HTTP request gets the recorded response ({status}, {count} chunks), streamed
with the recorded gaps. REPLAY_TIMING=original|instant|FACTOR changes the pacing.
"""

import asyncio
import base64
import os

STATUS = {status}
STREAMED = {streamed}
HEADERS = {headers}
# (encoding, data, delay in ms since the previous chunk; the first is time to first byte)
CHUNKS = {chunks}


def _chunk(encoding, data):
    return base64.b64decode(data) if encoding == "base64" else data.encode("utf-8")


BODY_CHUNKS = [(_chunk(e, d), ms / 1000.0) for e, d, ms in CHUNKS]
BODY = b"".join(c for c, _ in BODY_CHUNKS)


def _scale():
    value = os.environ.get("REPLAY_TIMING", "original").strip().lower()
    if value == "original":
        return 1.0
    if value == "instant":
        return 0.0
    try:
        factor = float(value)
    except ValueError:
        raise RuntimeError("REPLAY_TIMING must be original, instant or a number") from None
    if not factor >= 0:
        raise RuntimeError("REPLAY_TIMING factor must be >= 0")
    return factor


SCALE = _scale()


def _headers(with_length):
    out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in HEADERS]
    if with_length:
        out.append((b"content-length", str(len(BODY)).encode()))
    return out


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({{"type": "lifespan.startup.complete"}})
            elif message["type"] == "lifespan.shutdown":
                await send({{"type": "lifespan.shutdown.complete"}})
                return
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if not message.get("more_body", False):
            break
    if SCALE <= 0 or not BODY_CHUNKS:
        await send({{"type": "http.response.start", "status": STATUS,
                    "headers": _headers(True)}})
        await send({{"type": "http.response.body", "body": BODY, "more_body": False}})
        return
    loop = asyncio.get_running_loop()
    due = loop.time()
    started = False
    if STREAMED:  # a streaming server sends its headers at once and the tokens later
        await send({{"type": "http.response.start", "status": STATUS,
                    "headers": _headers(False)}})
        started = True
    for data, delay in BODY_CHUNKS:
        due += delay * SCALE  # absolute schedule: jitter does not add up
        wait = due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if not started:
            await send({{"type": "http.response.start", "status": STATUS,
                        "headers": _headers(True)}})
            started = True
        await send({{"type": "http.response.body", "body": data, "more_body": True}})
    await send({{"type": "http.response.body", "body": b"", "more_body": False}})
'''


def _chunk_literal(data: bytes, delay_ms: float) -> tuple[str, str, float]:
    import base64

    try:
        return ("text", data.decode("utf-8"), round(delay_ms, 3))
    except UnicodeDecodeError:
        return ("base64", base64.b64encode(data).decode("ascii"), round(delay_ms, 3))


def render(tape: Tape, source: str, module: str = "app") -> str:
    """The Python source of a standalone ASGI app replaying ``tape``."""
    headers = [(k, v) for k, v in tape.response_headers.items() if k not in _SKIP_HEADERS]
    chunks = [_chunk_literal(c.data, c.delay_ms) for c in tape.chunks]
    text = _TEMPLATE.format(
        version=__version__,
        source=source.replace('"""', "'''"),
        module=module,
        status=int(tape.status),
        streamed=tape_is_stream(tape),
        count=len(chunks),
        headers=pprint.pformat(headers, width=96, sort_dicts=False),
        chunks=pprint.pformat(chunks, width=96, sort_dicts=False),
    )
    compile(text, f"{module}.py", "exec")  # a bug here must fail now, not on the server
    return text


def export(tape: Tape, source: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    module = out.stem if out.stem.isidentifier() else "app"
    return write_atomic(out, render(tape, source, module).encode("utf-8"))
