"""The plain relay: a forwarded request that nobody records or watches live (mode
``off``, or a request the mode does not record), read from the upstream inside the
request's own task.

Single flight, the provider's parser and the follower machinery exist for recording
and for the live view; a plain relay needs none of them, and going without them
takes about half of the proxy's own work off each request (docs/performance.md).
What it keeps from the followed path: the same errors (in the provider's own format
before the head, the provider's in-stream error after it), the same headers, a
client that hangs up ends the upstream call, and a ``Flight`` filled in as the
record of what went out (the log line and the dashboard read it).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from replaydeck.errors import UpstreamError
from replaydeck.proxy.asgi import end_broken_stream, send_error
from replaydeck.proxy.flight import Flight
from replaydeck.proxy.keys import Prepared_Request
from replaydeck.proxy.upstream import Route, request_target
from replaydeck.proxy.upstream_client import Response, UpstreamClient
from replaydeck.wire.http import forward_request_headers

#: runs a coroutine while watching for the client going away; False if it went
Guard = Callable[[Awaitable[None]], Awaitable[bool]]

_SOURCE = (b"x-replaydeck-source", b"passthrough")


async def relay(client: UpstreamClient, route: Route, req: Prepared_Request, flight: Flight,
                send: Any, guarded: Guard) -> int:
    """Forward ``req`` and relay the answer as it arrives. Returns the status sent
    (499 when the client hung up first)."""
    sent = [0]
    ok = await guarded(_relay(client, route, req, flight, send, sent))
    return sent[0] if ok else 499


async def _relay(client: UpstreamClient, route: Route, req: Prepared_Request, flight: Flight,
                 send: Any, sent: list[int]) -> None:
    rec = req.record
    t0 = time.perf_counter()
    try:
        response = await client.request(
            route.base, rec.method, request_target(route, rec.path, rec.query, rec.wire_path),
            forward_request_headers(rec.headers), rec.body, route.display)
    except Exception as exc:  # never let a bug here take the server down
        err = exc if isinstance(exc, UpstreamError) else UpstreamError(
            f"internal error while relaying: {exc!r}", route.display)
        flight.finish(err)
        sent[0] = err.status
        await send_error(send, req.provider, err.status, str(err), err.error_type)
        return
    try:
        headers = response.relayed_headers()
        flight.status = sent[0] = response.status
        flight.headers = headers
        flight.head_ready = True
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        out.append(_SOURCE)
        start = {"type": "http.response.start", "status": response.status, "headers": out}
        if response.done:  # the whole answer came with its head (a small JSON reply)
            pieces = response.take_all()
            flight.chunks = pieces
            flight.delays = [(time.perf_counter() - t0) * 1000.0] + [0.0] * (len(pieces) - 1)
            flight.finished = True
            await send(start)
            await send({"type": "http.response.body",
                        "body": pieces[0] if len(pieces) == 1 else b"".join(pieces),
                        "more_body": False})
            return
        await send(start)
        await _stream(response, flight, req, send, t0)
    finally:
        response.close()


async def _stream(response: Response, flight: Flight, req: Prepared_Request, send: Any,
                  t0: float) -> None:
    clock = time.perf_counter
    last = t0
    read = response.read
    chunks, delays = flight.chunks, flight.delays
    try:
        while data := await read():
            now = clock()
            chunks.append(data)
            delays.append((now - last) * 1000.0)
            last = now
            end = response.done and not response.pending
            # the last piece goes out with the body's end: one write, not two
            await send({"type": "http.response.body", "body": data, "more_body": not end})
            if end:
                flight.finished = True
                return
    except UpstreamError as exc:
        flight.finish(exc)
        await end_broken_stream(send, req.provider, flight, exc)
        return
    flight.finished = True
    await send({"type": "http.response.body", "body": b"", "more_body": False})
