"""Building a tape from parts (an imported response and its request), keyed by the proxy.

The key, provider, stream flag and model come from ``ProxyApp.build`` exactly as
for a live request, and redaction from the app's ``Redactor``, so an imported tape
is the tape the proxy would have recorded for that request.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from replaydeck.models import Chunk, Tape
from replaydeck.proxy.app import ProxyApp
from replaydeck.storage.format import encode_bytes
from replaydeck.tapetools.requests import RequestSpec
from replaydeck.wire.http import relay_response_headers


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_tape(app: ProxyApp, spec: RequestSpec, status: int,
              headers: Iterable[tuple[str, str]], chunks: Sequence[Chunk], *,
              recorded_at: str | None = None, tape_id: str | None = None) -> Tape:
    route, path = app.router.match(spec.raw_path)
    req = app.build(spec.method, route, path, spec.query, spec.headers, spec.body)
    r = app.redactor.for_request(spec.headers, spec.query)
    body: Any
    if req.is_json:
        body = r.json(req.body_value)
    else:
        text = encode_bytes(r.bytes_(spec.body))
        body = text if isinstance(text, dict) else {"$text": text}
    response_headers = relay_response_headers((k.lower(), v) for k, v in headers)
    tape = Tape(
        key=req.key,
        id=tape_id or secrets.token_hex(4),
        recorded_at=recorded_at or now_iso(),
        provider=req.provider.name,
        method=spec.method,
        route=route.prefix,
        path=path,
        query=r.query_string(spec.query),
        request_headers=r.headers_dict(spec.headers),
        request_body=body,
        stream=req.want_stream,
        status=status,
        response_headers=r.headers_dict(response_headers),
        chunks=tuple(Chunk(d, c.delay_ms) for d, c in zip(r.chunks([c.data for c in chunks]), chunks, strict=True)),
    )
    summary = req.provider.summarize_tape(tape).to_json()
    model = req.provider.model(path, req.body_value) or summary.get("model")
    return dataclasses.replace(tape, summary=summary, model=model)
