"""Small ASGI replies shared by the forwarding paths (proxy/app.py, proxy/relay.py)."""

from __future__ import annotations

from typing import Any

from replaydeck.errors import ReplaydeckError
from replaydeck.providers import Provider
from replaydeck.proxy.flight import Flight


async def send_json(send: Any, status: int, body: bytes,
                    extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_error(send: Any, provider: Provider, status: int, message: str, etype: str) -> None:
    """An error answer in the provider's own format, before any head was sent."""
    await send_json(send, status, provider.error_body(status, message, etype),
                    [(b"x-replaydeck-source", b"error")])


async def end_broken_stream(send: Any, provider: Provider, flight: Flight,
                            error: ReplaydeckError) -> None:
    """End a relayed body whose upstream failed after the head went out.

    SSE or NDJSON (Ollama): the provider's own in-stream error, when the bytes sent
    so far end between two events (see Provider.stream_error_tail), then the body's
    end. Otherwise the body is left unterminated: the client sees a broken read."""
    ct = dict(flight.headers).get("content-type", "")
    last = flight.chunks[-1] if flight.chunks else b""
    tail = provider.stream_error_tail(ct, last, str(error), "upstream_error")
    if tail is None:
        return
    await send({"type": "http.response.body", "body": tail, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
