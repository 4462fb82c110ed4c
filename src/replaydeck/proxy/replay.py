"""Turning a tape into an ASGI response, paced by the recorded delays.

``prepare`` picks the variant the client needs (as recorded, converted to a
stream, or converted to one JSON body) and pre-encodes it once; the result is
cached on the store entry, so a hot tape costs one dict lookup per replay.

Pacing uses an absolute schedule (start + sum of delays) rather than sleeping
each gap in turn, so scheduling jitter does not accumulate over a long stream.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from replaydeck.models import Tape
from replaydeck.providers.base import Provider
from replaydeck.storage.filesystem import Entry
from replaydeck.wire.http import is_event_stream, is_ndjson

Headers = list[tuple[bytes, bytes]]

#: how much of the wait before the first byte is not left to the ms-granular timer
_COARSE = 0.001

_SKIP = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection"})


@dataclass(frozen=True, slots=True)
class Prepared:
    status: int
    headers: Headers  # without content-length
    chunks: tuple[tuple[bytes, float], ...]  # (data, delay in seconds, unscaled)
    body: bytes
    streamed: bool
    converted: bool
    #: ``headers`` plus content-length, for a reply sent in one piece (never mutated)
    whole_headers: Headers = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        whole = [*self.headers, (b"content-length", str(len(self.body)).encode())]
        object.__setattr__(self, "whole_headers", whole)


def tape_is_stream(tape: Tape) -> bool:
    ct = tape.content_type
    return is_event_stream(ct) or is_ndjson(ct)


def _headers(tape: Tape, content_type: str | None) -> Headers:
    out: Headers = []
    for name, value in tape.response_headers.items():
        if name in _SKIP or (content_type is not None and name == "content-type"):
            continue
        out.append((name.encode("latin-1"), value.encode("latin-1", "replace")))
    if content_type is not None:
        out.append((b"content-type", content_type.encode("latin-1")))
    out.append((b"x-replaydeck-source", b"tape"))
    out.append((b"x-replaydeck-tape", tape.id.encode("latin-1", "replace")))
    if tape.status >= 400:
        # a recorded failure replays the same way every time: retrying is pointless
        out.append((b"x-should-retry", b"false"))
    return out


def _recorded_stream(entry: Entry) -> bool:
    """tape_is_stream, computed once per cache entry (it parses the content type)."""
    recorded = entry.derived.get("is-stream")
    if recorded is None:
        recorded = entry.derived["is-stream"] = tape_is_stream(entry.tape)
    return bool(recorded)


def _wants_usage(request_body: Any) -> bool:
    so = request_body.get("stream_options") if isinstance(request_body, dict) else None
    return isinstance(so, dict) and bool(so.get("include_usage"))


def _variant(want_stream: bool | None, entry: Entry, request_body: Any) -> str:
    if want_stream is None or want_stream == _recorded_stream(entry):
        # ``stream_options`` is not in the key: a stream recorded with a usage chunk
        # must lose it for a client that did not ask (its code may read choices[0])
        if want_stream and not _wants_usage(request_body):
            return "as-recorded-nousage"
        return "as-recorded"
    if want_stream:
        return "stream+usage" if _wants_usage(request_body) else "stream"
    return "body"


def prepare(entry: Entry, provider: Provider, want_stream: bool | None, request_body: Any) -> Prepared:
    tape = entry.tape
    variant = _variant(want_stream, entry, request_body)
    cached = entry.derived.get(variant)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    prepared = None
    if variant == "body":
        converted = provider.to_body(tape, request_body)
        if converted is not None:
            status, body = converted
            total = sum(c.delay_ms for c in tape.chunks) / 1000.0
            prepared = Prepared(
                status, _headers(tape, "application/json"), ((body, total),), body, False, True
            )
    elif variant.startswith("stream"):
        pieces = provider.to_stream(tape, request_body)
        if pieces is not None:
            first = tape.chunks[0].delay_ms / 1000.0 if tape.chunks else 0.0
            chunks = tuple((p, first if i == 0 else 0.0) for i, p in enumerate(pieces))
            prepared = Prepared(
                tape.status,
                _headers(tape, provider.stream_content_type),
                chunks,
                b"".join(pieces),
                True,
                True,
            )
    elif variant == "as-recorded-nousage":
        kept = provider.without_usage(tape)
        if kept is not None:
            chunks = tuple((data, ms / 1000.0) for data, ms in kept)
            prepared = Prepared(tape.status, _headers(tape, None), chunks,
                                b"".join(c for c, _ in chunks), True, True)
    if prepared is None:  # as recorded (also when a conversion is not possible)
        chunks = tuple((c.data, c.delay_ms / 1000.0) for c in tape.chunks)
        prepared = Prepared(
            tape.status,
            _headers(tape, None),
            chunks,
            b"".join(c for c, _ in chunks),
            _recorded_stream(entry),
            False,
        )
    entry.derived[variant] = prepared
    return prepared


async def send_prepared(prepared: Prepared, send: Any, scale: float,
                        start: float | None = None) -> None:
    """Send a prepared reply; ``scale`` multiplies every recorded delay (0 = at once).

    ``start`` (perf_counter) anchors the schedule, e.g. at the request's arrival."""
    if scale <= 0 or not prepared.chunks:
        await send({"type": "http.response.start", "status": prepared.status,
                    "headers": prepared.whole_headers})
        await send({"type": "http.response.body", "body": prepared.body, "more_body": False})
        return
    # the schedule runs on perf_counter: uvloop's loop.time() is cached per loop
    # iteration and ticks in whole ms, which made every chunk up to ~1 ms late
    clock = time.perf_counter
    due = clock() if start is None else start
    chunks = prepared.chunks
    if prepared.streamed:
        # a streaming upstream sends its headers at once and the tokens later
        await send({"type": "http.response.start", "status": prepared.status, "headers": prepared.headers})
        started = True
    else:
        started = False
    first = True
    for data, delay in chunks:
        due += delay * scale
        wait = due - clock()
        if first:
            # uvloop's timers tick in whole ms, so a plain sleep lands the first byte
            # ~0.5 ms late on average; sleep to 1 ms short, then yield to the loop
            # until it is due (once per reply, so the spin stays short and rare)
            first = False
            if wait > _COARSE:
                await asyncio.sleep(wait - _COARSE)
            while clock() < due:
                await asyncio.sleep(0)
        elif wait > 0:
            await asyncio.sleep(wait)
        if not started:
            await send({"type": "http.response.start", "status": prepared.status,
                        "headers": prepared.whole_headers})
            started = True
        await send({"type": "http.response.body", "body": data, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
