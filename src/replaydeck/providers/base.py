"""The provider protocol: everything the core needs to know about one API family.

A provider is one module with one class. The core never looks inside bodies
itself; it asks the provider of the request:

* ``match(method, path)``: does this request belong to me;
* ``key_path`` / ``key_query`` / ``key_body``: fold variants that mean the same
  request onto one key (Gemini's two URLs, Ollama's default ``stream``);
* ``request_stream``: did the client ask for a stream (None = cannot tell);
* ``parser()``: a sans-IO response parser (feed bytes, get live events; then
  ``summary()``), used while recording and to summarise tapes;
* ``to_body`` / ``to_stream``: convert a recorded response to the other framing;
* ``error_body``: an error shaped the way this provider's SDK reads errors.

The base class is the generic HTTP provider: no conversion, OpenAI-shaped errors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from replaydeck.models import Tape


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str | None
    name: str
    arguments: Any  # parsed JSON when it parses, else the raw string


@dataclass(frozen=True, slots=True)
class Summary:
    """What a response said, whatever its framing. Stored in the tape's meta."""

    model: str | None = None
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: str | None = None
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["tool_calls"] = [asdict(t) for t in self.tool_calls]
        if not out["extra"]:
            del out["extra"]
        return out


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """Something a parser saw while a response was streaming (for the dashboard)."""

    kind: str  # "text" | "tool_call" | "error"
    text: str = ""
    name: str | None = None


def parse_arguments(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return raw


class ResponseParser:
    """Sans-IO parser of a response body. The base one just collects bytes."""

    def __init__(self, provider: Provider, status: int, content_type: str) -> None:
        self.provider = provider
        self.status = status
        self.content_type = content_type
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> list[LiveEvent]:
        self._parts.append(data)
        return []

    def summary(self) -> Summary:
        return self.provider.summarize_body(self.status, self.content_type, b"".join(self._parts))

    def complete(self) -> bool:
        """Did the response end the way a whole one ends (e.g. [DONE] seen)?"""
        return True

    @property
    def stream_error(self) -> dict[str, Any] | None:
        """An error event seen inside a 200 stream."""
        return None


class Provider:
    name = "generic"
    title = "HTTP"
    #: body fields this provider adds to the configured volatile list
    volatile_fields: tuple[str, ...] = ()
    stream_content_type = "text/event-stream"

    def match(self, method: str, path: str) -> bool:
        return True

    def key_path(self, path: str) -> str:
        return path

    def key_query(self, pairs: list[list[str]]) -> list[list[str]]:
        return pairs

    def key_body(self, body: Any) -> Any:
        return body

    def request_stream(self, path: str, query: str, body: Any) -> bool | None:
        if isinstance(body, dict) and isinstance(body.get("stream"), bool):
            return bool(body["stream"])
        return None

    def model(self, path: str, body: Any) -> str | None:
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            return str(body["model"])
        return None

    def parser(self, status: int, content_type: str) -> ResponseParser:
        return ResponseParser(self, status, content_type)

    def summarize_body(self, status: int, content_type: str, body: bytes) -> Summary:
        err = None
        if status >= 400:
            err = {"status": status, "message": body[:500].decode("utf-8", "replace")}
        return Summary(error=err)

    def summarize_tape(self, tape: Tape) -> Summary:
        parser = self.parser(tape.status, tape.content_type)
        for chunk in tape.chunks:
            parser.feed(chunk.data)
        return parser.summary()

    def to_body(self, tape: Tape, request_body: Any) -> tuple[int, bytes] | None:
        """A recorded stream as the non-streamed reply; None = cannot convert."""
        return None

    def to_stream(self, tape: Tape, request_body: Any) -> list[bytes] | None:
        """A recorded non-streamed reply as stream chunks; None = cannot convert."""
        return None

    def error_body(self, status: int, message: str, error_type: str) -> bytes:
        return orjson.dumps(
            {"error": {"message": message, "type": error_type, "param": None, "code": error_type}}
        )

    def stream_error_event(self, message: str, error_type: str) -> bytes | None:
        """Bytes that make this provider's SDK raise inside an already-started stream."""
        return b"data: " + orjson.dumps({"error": {"message": message, "type": error_type}}) + b"\n\n"
