"""Frozen value types that travel between the layers. Identity and storage stay out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One client request as received, before any decision."""

    method: str
    route: str  # the matched route prefix ("" for the default upstream)
    path: str  # the path after the route prefix, e.g. /v1/chat/completions
    query: str  # raw query string, without '?'
    headers: tuple[tuple[str, str], ...]  # lower-cased names, in order
    body: bytes
    #: ``path`` as the client wrote it (percent escapes kept, e.g. ``a%2Fb``), forwarded
    #: upstream as is; "" when not known (then ``path`` is encoded again)
    wire_path: str = ""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a response body: ``delay_ms`` since the previous chunk.

    For the first chunk the delay is the time from sending the request upstream
    to its first body byte, so replay reproduces time to first byte too.
    """

    data: bytes
    delay_ms: float


@dataclass(frozen=True, slots=True)
class Tape:
    """A recorded interaction, in memory. ``storage.format`` reads and writes it."""

    key: str
    id: str
    recorded_at: str
    provider: str
    method: str
    route: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: Any  # parsed JSON, or {"$base64": ...} / {"$text": ...} for other bodies
    stream: bool | None  # did the recorded request ask for a stream
    status: int
    response_headers: dict[str, str]
    chunks: tuple[Chunk, ...]
    summary: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    version: int = 1
    sequence: int = 0  # position in a series of recordings of the same key (--sequence)
    legacy: str | None = None  # set when read from another tool's format

    @property
    def body(self) -> bytes:
        return b"".join(c.data for c in self.chunks)

    @property
    def content_type(self) -> str:
        return self.response_headers.get("content-type", "")
