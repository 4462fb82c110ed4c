"""What the proxy reports about a request: the tape it records and the lifecycle events
the dashboard and history read. Every value here has its secrets removed first.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from replaydeck.errors import ReplaydeckError
from replaydeck.models import Chunk, Tape
from replaydeck.proxy.flight import Flight
from replaydeck.proxy.upstream import Route
from replaydeck.redaction import Redactor
from replaydeck.storage.format import encode_bytes

if TYPE_CHECKING:
    from replaydeck.proxy.app import ProxyApp
    from replaydeck.proxy.keys import Prepared_Request

#: chunks carried by one completed event (a longer stream is cut for the dashboard only)
MAX_EVENT_CHUNKS = 5000


def bytes_value(data: bytes) -> Any:
    """A non-JSON body as stored: its text, or base64 when it is not UTF-8."""
    text = encode_bytes(data)
    return text if isinstance(text, dict) else {"$text": text}


def make_tape(redactor: Redactor, flight: Flight, req: Prepared_Request, parser: Any,
              sequence: int = 0) -> Tape:
    """The tape of a finished flight, with every secret removed."""
    rec = req.record
    summary = parser.summary().to_json() if parser is not None else {}
    r = redactor.for_request(rec.headers, rec.query)
    if req.is_json:
        body: Any = r.json(req.body_value)
    else:
        body = bytes_value(r.bytes_(rec.body))
    chunks = tuple(
        Chunk(d, delay) for d, delay in zip(r.chunks(flight.chunks), flight.delays, strict=True)
    )
    return Tape(
        key=req.key,
        id=secrets.token_hex(4),
        recorded_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        provider=req.provider.name,
        method=rec.method,
        route=rec.route,
        path=rec.path,
        query=r.query_string(rec.query),
        request_headers=r.headers_dict(rec.headers),
        request_body=body,
        stream=req.want_stream,
        status=flight.status,
        response_headers=r.headers_dict(flight.headers),
        chunks=chunks,
        summary=r.json(summary),
        model=req.provider.model(rec.path, req.body_value) or (summary.get("model") if summary else None),
        sequence=sequence,
    )


def started_event(redactor: Redactor, rid: str, req: Prepared_Request, route: Route,
                  decision: str) -> dict[str, Any]:
    """The request.started event (see events.py), redacted."""
    rec = req.record
    r = redactor.for_request(rec.headers, rec.query)
    return {
        "type": "request.started", "id": rid, "ts": time.time(), "method": rec.method,
        "route": rec.route, "path": rec.path, "query": r.query_string(rec.query),
        "provider": req.provider.name, "model": req.provider.model(rec.path, req.body_value),
        "stream": req.want_stream, "key": req.key, "decision": decision,
        "upstream": route.display,
        "request_headers": r.masked_headers(rec.headers),
        "request_body": r.json(req.body_value) if req.is_json else bytes_value(r.bytes_(rec.body)),
    }


def completed_event(app: ProxyApp, rid: str, req: Prepared_Request, source: str, status: int,
                    duration: float, tape: Tape | None, error: ReplaydeckError | None,
                    flight: Flight | None) -> dict[str, Any]:
    """Everything the dashboard and history show about a finished request (redacted)."""
    r = app.redactor.for_request(req.record.headers, req.record.query)
    summary: dict[str, Any] = {}
    chunks: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    scale = app.runtime.timing.scale
    if tape is not None:
        summary = tape.summary or app.registry.get(tape.provider).summarize_tape(tape).to_json()
        chunks = [{"c": encode_bytes(c.data), "d": round(c.delay_ms * scale, 3)}
                  for c in tape.chunks[:MAX_EVENT_CHUNKS]]
        headers = dict(tape.response_headers)
    elif flight is not None:
        if flight.tape is not None:
            summary = flight.tape.summary
        elif flight.head_ready and flight.chunks:
            parser = req.provider.parser(flight.status, dict(flight.headers).get("content-type", ""))
            for data in flight.chunks:
                parser.feed(data)
            summary = r.json(parser.summary().to_json())  # raw bytes: redact
        chunks = [{"c": encode_bytes(d), "d": round(ms, 3)}
                  for d, ms in zip(r.chunks(flight.chunks[:MAX_EVENT_CHUNKS]), flight.delays, strict=False)]
        headers = r.headers_dict(flight.headers)
    ttfb = chunks[0]["d"] if chunks else None
    return {
        "type": "request.completed", "id": rid, "ts": time.time(), "source": source,
        "status": status, "duration_ms": round(duration, 3), "ttfb_ms": ttfb,
        "tape": tape.id if tape else (flight.tape.id if flight and flight.tape else None),
        "key": req.key, "summary": summary, "response_headers": headers, "chunks": chunks,
        "error": str(error) if error is not None else None,
    }
