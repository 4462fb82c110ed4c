"""HTTP header rules for a proxy (pure).

RFC 9110 section 7.6.1: hop-by-hop fields (Connection, Keep-Alive, Proxy-*, TE,
Trailer, Transfer-Encoding, Upgrade, and every field the Connection header names)
apply to one connection only and are not forwarded. ``Host`` is rewritten by the
upstream client; ``Content-Length`` is recomputed by whoever frames the body.
"""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

#: Not forwarded upstream: set by the upstream client for the new connection. Accept-Encoding
#: is left to the upstream client, which asks only for encodings it can decode: the proxy
#: decodes every upstream body (to relay, record and inspect it) and answers in identity.
REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "accept-encoding"}

#: Not relayed from the upstream response: the body is relayed decoded, in new framing.
RESPONSE_DROP = HOP_BY_HOP | {"content-length", "content-encoding"}


def connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    out: set[str] = set()
    for name, value in headers:
        if name == "connection":
            out.update(t.strip().lower() for t in value.split(",") if t.strip())
    return out


def forward_request_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    headers = list(headers)
    extra = connection_tokens(headers)
    return [(k, v) for k, v in headers if k not in REQUEST_DROP and k not in extra]


def relay_response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    headers = list(headers)
    extra = connection_tokens(headers)
    return [(k, v) for k, v in headers if k not in RESPONSE_DROP and k not in extra]


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_event_stream(content_type: str) -> bool:
    return media_type(content_type) == "text/event-stream"


def is_ndjson(content_type: str) -> bool:
    return media_type(content_type) in ("application/x-ndjson", "application/jsonl", "application/ndjson")


def is_json(content_type: str) -> bool:
    mt = media_type(content_type)
    return mt == "application/json" or mt.endswith("+json")
