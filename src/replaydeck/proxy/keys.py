"""A request's tape key, and the memo that makes a repeated request cost one dict lookup.

The key (see ``matching``) is a pure function of the method, the path, the query
string, the allowlisted key headers and the body. Computing it parses the body,
drops the volatile fields, dumps canonical JSON and hashes it: about a quarter of
a replay's work. Replays repeat the same requests, so ``Memo`` maps those raw
inputs, byte for byte, to the finished result. A memo hit is exact (the dict
compares the whole body, not a hash of it), so it can never pick a wrong tape.

The memo is bounded by entry count and by the bytes of the bodies it holds, and
bodies above ``MAX_BODY`` are never kept: a long agent transcript may be megabytes.
The settings a key depends on (routes, volatile fields, key headers, secret query
names) are fixed for the life of the process, so the memo is never stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from replaydeck.matching import (
    body_material,
    digest,
    drop_fields,
    key_material,
    key_query,
    parse_json_body,
)
from replaydeck.models import RequestRecord, Tape
from replaydeck.providers import Provider, Registry
from replaydeck.proxy.upstream import Route, Router
from replaydeck.storage.format import stored_body_bytes

RawHeaders = list[tuple[bytes, bytes]]

V = TypeVar("V")

#: bodies larger than this are keyed every time (kept out of the memo's memory)
MAX_BODY = 1 << 20


class Prepared_Request:
    """A request with everything the decision needs: its provider, parsed body and key."""

    __slots__ = ("body_value", "is_json", "key", "material", "provider", "record", "reply",
                 "want_stream")

    def __init__(
        self,
        record: RequestRecord,
        provider: Provider,
        is_json: bool,
        body_value: Any,
        material: dict[str, Any],
        key: str,
        want_stream: bool | None,
    ) -> None:
        self.record = record
        self.provider = provider
        self.is_json = is_json
        #: shared by every request with the same bytes (memo): never mutate it
        self.body_value = body_value
        self.material = material
        self.key = key
        self.want_stream = want_stream
        #: (store entry, reply prepared from it) last sent for this request: a memoized
        #: request replayed again from the same entry skips choosing its variant
        self.reply: tuple[Any, Any] | None = None


@dataclass(frozen=True, slots=True)
class Keyed:
    """What a request's raw bytes determine: where it goes and which tape answers it."""

    route: Route
    path: str  # after the route prefix
    provider: Provider
    is_json: bool
    body_value: Any
    material: dict[str, Any]
    key: str
    want_stream: bool | None


def _wire_path(raw: bytes | None, prefix: str) -> str:
    """The raw path after the route prefix, or "" when it cannot be told apart."""
    if not raw:
        return ""
    text = raw.decode("latin-1")
    if prefix:
        if not (text == prefix or text.startswith(prefix + "/")):
            return ""  # the prefix itself was escaped: fall back to encoding ``path``
        text = text[len(prefix):] or "/"
    return text


class Memo(Generic[V]):
    """Raw request inputs (a tuple whose item 3 is the body) -> a result; first in, first
    out; bounded in entries and in the body bytes it holds."""

    def __init__(self, max_entries: int = 4096, max_bytes: int = 32 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._map: dict[tuple[Any, ...], V] = {}

    def get(self, memo_key: tuple[Any, ...]) -> V | None:
        return self._map.get(memo_key)

    def put(self, memo_key: tuple[Any, ...], value: V) -> None:
        size = len(memo_key[3])
        if size > MAX_BODY or self.max_entries <= 0 or memo_key in self._map:
            return
        self._map[memo_key] = value
        self.bytes += size
        while len(self._map) > self.max_entries or self.bytes > self.max_bytes:
            oldest = next(iter(self._map))
            self.bytes -= len(oldest[3])
            del self._map[oldest]

    def __len__(self) -> int:
        return len(self._map)


class Keyer:
    """Computes keys with the process's fixed key settings; memoizes requests as received."""

    def __init__(
        self,
        registry: Registry,
        router: Router,
        volatile: tuple[str, ...],
        key_headers: tuple[str, ...],
        secret_query: frozenset[str],
        max_entries: int = 4096,
    ) -> None:
        self.registry = registry
        self.router = router
        self.volatile = volatile
        self.key_headers = key_headers
        self._key_header_names = frozenset(h.encode("latin-1") for h in key_headers)
        self.secret_query = secret_query
        self.memo: Memo[Keyed] = Memo(max_entries)
        self._requests: Memo[tuple[Route, Prepared_Request]] = Memo(max_entries)
        self._volatile_cache: dict[str, tuple[str, ...]] = {}

    def volatile_for(self, provider: Provider) -> tuple[str, ...]:
        """Body fields left out of the key for this provider's requests.

        ``stream``/``stream_options`` only change the framing when the provider can
        convert one framing into the other; for a provider that cannot (generic HTTP),
        a streamed and a plain request must not share a tape."""
        cached = self._volatile_cache.get(provider.name)
        if cached is None:
            fields = self.volatile + provider.volatile_fields
            if type(provider).to_stream is Provider.to_stream:
                fields = tuple(f for f in fields if f not in ("stream", "stream_options"))
            cached = self._volatile_cache[provider.name] = fields
        return cached

    def keyed(self, method: str, route: Route, path: str, query: str,
              key_headers: dict[str, str], body: bytes) -> Keyed:
        """The key of one request (no memo): used for every request the memo has not seen."""
        provider = self.registry.for_request(method, path)
        is_json, value = parse_json_body(body)
        # the body is parsed once: the key works on a top-level copy of the parsed value
        # (drop_fields copies), so key_body must not mutate nested values
        body_key = (provider.key_body(drop_fields(value, self.volatile_for(provider))) if is_json
                    else body_material(body, ()))
        material = key_material(
            method=method,
            route=route.prefix,
            path=provider.key_path(path),
            # most API calls have no query string: skip parsing and sorting nothing
            query=provider.key_query(key_query(query, self.secret_query) if query else []),
            headers=key_headers,
            body=body_key,
        )
        want = provider.request_stream(path, query, value if is_json else None)
        return Keyed(route, path, provider, is_json, value, material, digest(material), want)

    def tape_material(self, tape: Tape) -> dict[str, Any]:
        """The key material of a stored tape, computed as for the request that made it
        (for miss explanations and tape diffs; tapes may predate today's settings)."""
        provider = self.registry.get(tape.provider)
        body = tape.request_body
        raw = stored_body_bytes(body)
        if raw is not None:
            body_key: Any = body_material(raw, ())
        else:
            body_key = provider.key_body(drop_fields(body, self.volatile_for(provider)))
        return key_material(
            method=tape.method,
            route=tape.route,
            path=provider.key_path(tape.path),
            query=provider.key_query(key_query(tape.query, self.secret_query)),
            headers={k: v for k, v in tape.request_headers.items() if k in self.key_headers},
            body=body_key,
        )

    def build(self, method: str, route: Route, path: str, query: str,
              headers: tuple[tuple[str, str], ...], body: bytes) -> Prepared_Request:
        """A request given as text (tape tools, ``tapes why``): keyed without the memo."""
        record = RequestRecord(method, route.prefix, path, query, headers, body)
        kh = {}
        for name in self.key_headers:
            v = record.header(name)
            if v is not None:
                kh[name] = v
        k = self.keyed(method, route, path, query, kh, body)
        return Prepared_Request(record, k.provider, k.is_json, k.body_value, k.material, k.key,
                                k.want_stream)

    def from_scope(self, method: str, raw_path: str, raw_query: bytes, raw_headers: RawHeaders,
                   body: bytes, wire_path: bytes | None = None) -> tuple[Route, Prepared_Request]:
        """A request as the server received it: keyed through the memo.

        Two levels: the same request with the same headers (a client repeating
        itself) gets the same finished, read-only ``Prepared_Request``; other headers
        reuse the key and rebuild only the record. ``wire_path``: the path as sent
        (ASGI ``raw_path``), kept for forwarding; it does not change the key."""
        raw = tuple(raw_headers)
        whole = (method, raw_path, raw_query, body, raw, wire_path)
        seen = self._requests.get(whole)
        if seen is not None:
            return seen
        names = self._key_header_names
        # every key header as received, in order: the memo key determines the result
        kh = tuple((k, v) for k, v in raw if k in names) if names else ()
        memo_key = (method, raw_path, raw_query, body, kh)
        query = raw_query.decode("latin-1")
        k = self.memo.get(memo_key)
        if k is None:
            route, path = self.router.match(raw_path)
            hdrs: dict[str, str] = {}
            for name, value in kh:
                hdrs.setdefault(name.decode("latin-1"), value.decode("latin-1"))
            k = self.keyed(method, route, path, query, hdrs, body)
            self.memo.put(memo_key, k)
        headers = tuple((n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in raw)
        record = RequestRecord(method, k.route.prefix, k.path, query, headers, body,
                               _wire_path(wire_path, k.route.prefix))
        result = k.route, Prepared_Request(record, k.provider, k.is_json, k.body_value,
                                           k.material, k.key, k.want_stream)
        self._requests.put(whole, result)
        return result
