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
``StreamParser`` is the shared skeleton of the streaming providers: it decodes SSE
or NDJSON into JSON objects and hands each to the provider's accumulator, so a
provider module only says what an event means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from replaydeck.models import Tape
from replaydeck.wire.http import is_event_stream, is_ndjson
from replaydeck.wire.ndjson import NDJSONDecoder
from replaydeck.wire.sse import SSEDecoder


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
        # by hand: dataclasses.asdict deep-copies every nested value, which was a
        # third of the work of saving a recording; every caller serializes or
        # redacts (copies) the result, so a copy of each dict's first level is enough
        out: dict[str, Any] = {
            "model": self.model, "text": self.text,
            "tool_calls": [{"id": t.id, "name": t.name, "arguments": t.arguments}
                           for t in self.tool_calls],
            "stop_reason": self.stop_reason,
            "usage": None if self.usage is None else dict(self.usage),
            "error": None if self.error is None else dict(self.error),
        }
        if self.extra:
            out["extra"] = dict(self.extra)
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

    def end(self) -> None:
        """The body is over: dispatch whatever the decoder still holds."""

    def complete(self) -> bool:
        """Has the response reached the way a whole one ends (e.g. [DONE] seen)?

        Asked while the stream is still arriving, so it must not consume input."""
        return True

    @property
    def stream_error(self) -> dict[str, Any] | None:
        """An error event seen inside a 200 stream."""
        return None


class Accumulator:
    """Folds one provider's stream events into its non-streamed body (pure, no I/O)."""

    #: a ``data: [DONE]`` event ends the stream (OpenAI's data-only streams); for the
    #: others it is ignored, so only their own terminal event makes a stream whole
    done_marker = False

    def __init__(self) -> None:
        self.error: dict[str, Any] | None = None
        self.done = False  # the stream ended the way a whole one ends

    def add(self, event: str | None, obj: Any) -> list[LiveEvent]:
        raise NotImplementedError

    def body(self) -> dict[str, Any]:
        raise NotImplementedError


class StreamParser(ResponseParser):
    """A response that is JSON when whole and SSE or NDJSON when streamed.

    Streamed bytes go through the wire decoder; every event whose data is a JSON
    value reaches ``acc.add(event_name, value)``. Lines that are not JSON (an SSE
    ``[DONE]``, a stray comment) are skipped here: the accumulator decides what
    ends a stream. A non-streamed body is summarised whole by the provider.
    """

    def __init__(
        self, provider: Provider, status: int, content_type: str, acc: Accumulator
    ) -> None:
        super().__init__(provider, status, content_type)
        self.ndjson = is_ndjson(content_type)
        self.streaming = self.ndjson or is_event_stream(content_type)
        self.sse = SSEDecoder()
        self.lines = NDJSONDecoder()
        self.acc = acc

    def feed(self, data: bytes) -> list[LiveEvent]:
        if not self.streaming:
            return super().feed(data)
        if self.ndjson:
            return self._objects((None, line) for line in self.lines.feed(data))
        return self._objects((ev.event, ev.data) for ev in self.sse.feed(data))

    def _flush(self) -> None:
        if self.ndjson:
            self._objects((None, line) for line in self.lines.flush())
        else:
            self._objects((ev.event, ev.data) for ev in self.sse.flush())

    def _objects(self, items: Any) -> list[LiveEvent]:
        out: list[LiveEvent] = []
        for name, data in items:
            if data[:6] in ("[DONE]", b"[DONE]"):
                self.on_done()
                continue
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            out.extend(self.acc.add(name, obj))
        return out

    def on_done(self) -> None:
        if self.acc.done_marker:
            self.acc.done = True

    def finish(self) -> Accumulator:
        """Flush the decoder (end of input) and return the accumulator."""
        if self.streaming:
            self._flush()
        return self.acc

    def end(self) -> None:
        if self.streaming:
            self._flush()

    def complete(self) -> bool:
        return not self.streaming or self.acc.done or self.acc.error is not None

    @property
    def stream_error(self) -> dict[str, Any] | None:
        return self.acc.error if self.streaming else None

    def summary(self) -> Summary:
        if not self.streaming:
            return super().summary()
        acc = self.finish()
        return self.provider.summarize_stream(acc)


def error_of(data: Any) -> dict[str, Any]:
    """The ``error`` object of an error body, or the whole body as a message."""
    err = data.get("error") if isinstance(data, dict) else None
    return dict(err) if isinstance(err, dict) else {"message": str(data)}


def load_json(data: bytes) -> Any:
    """The JSON value of a body, or None when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
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

    def summarize_whole(self, body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
        """The summary of a whole (non-streamed, or accumulated) reply body."""
        return Summary(error=error)

    def summarize_stream(self, acc: Accumulator) -> Summary:
        """The summary of a streamed response, from its accumulator."""
        return self.summarize_whole(acc.body(), acc.error)

    def stream_error_reply(self, acc: Accumulator) -> tuple[int, bytes] | None:
        """How the non-streamed API answers what ended a stream in error (None: as a body)."""
        return 500, orjson.dumps({"error": acc.error})

    def summarize_tape(self, tape: Tape) -> Summary:
        parser = self.parser(tape.status, tape.content_type)
        for chunk in tape.chunks:
            parser.feed(chunk.data)
        return parser.summary()

    def to_body(self, tape: Tape, request_body: Any) -> tuple[int, bytes] | None:
        """A recorded stream as the non-streamed reply; None = cannot convert.

        Providers whose parser is a StreamParser get this for free: the stream is
        accumulated into the whole body their API would have sent."""
        acc = accumulate_tape(self, tape)
        if acc is None:
            return None
        if acc.error is not None:
            reply = self.stream_error_reply(acc)
            if reply is not None:
                return reply
        return tape.status, orjson.dumps(acc.body())

    def without_usage(self, tape: Tape) -> list[tuple[bytes, float]] | None:
        """The recorded stream minus a usage-only chunk the client did not ask for,
        as (bytes, delay ms) pieces; None = nothing to remove."""
        return None

    def to_stream(self, tape: Tape, request_body: Any) -> list[bytes] | None:
        """A recorded non-streamed reply as stream chunks; None = cannot convert."""
        return None

    def error_body(self, status: int, message: str, error_type: str) -> bytes:
        return orjson.dumps(
            {"error": {"message": message, "type": error_type, "param": None, "code": error_type}}
        )

    def stream_error_tail(
        self, content_type: str, last: bytes, message: str, error_type: str
    ) -> bytes | None:
        """What to send after ``last`` when the upstream broke mid-stream; None = nothing.

        Only at an event boundary: appended to half an event, the error would corrupt
        that event and the SDK would fail on bad JSON instead of raising the provider's
        error. Mid-event the body is left unterminated, so the client sees a broken read,
        as it would from the upstream itself.
        """
        if is_ndjson(content_type):
            boundary = not last or last.endswith(b"\n")
        elif is_event_stream(content_type):
            boundary = not last or last.endswith((b"\n\n", b"\r\n\r\n", b"\r\r"))
        else:
            return None
        return self.stream_error_event(message, error_type) if boundary else None

    def stream_error_event(self, message: str, error_type: str) -> bytes | None:
        """Bytes that make this provider's SDK raise inside an already-started stream."""
        return b"data: " + orjson.dumps({"error": {"message": message, "type": error_type}}) + b"\n\n"


def accumulate_tape(provider: Provider, tape: Tape) -> Accumulator | None:
    """Run a recorded stream through the provider's parser; None when it is not a stream."""
    parser = provider.parser(tape.status, tape.content_type)
    if not isinstance(parser, StreamParser) or not parser.streaming:
        return None
    for chunk in tape.chunks:
        parser.feed(chunk.data)
    return parser.finish()


def sse_frame(obj: Any, event: str | None = None, newline: bytes = b"\n") -> bytes:
    """One SSE event holding ``obj`` as compact JSON (one ``data:`` line)."""
    head = b"event: " + event.encode() + newline if event is not None else b""
    return head + b"data: " + orjson.dumps(obj) + newline + newline
