"""Server-sent events decoder and encoder (WHATWG HTML, "Interpreting an event stream").

Strategy: bytes are fed in pieces of any size; complete lines are split on CR, LF
or CRLF (a CR at the very end of a piece is held back, since an LF may follow in
the next piece); each line is applied with the spec's field rules, and a blank
line dispatches the event. ``flush()`` at end of input dispatches a pending event
even without its final blank line (the spec would drop it, but a recorder must
not lose the last event of a stream that was cut off).

Rules kept from the spec: one optional space after the colon is removed; several
``data`` lines join with "\\n"; lines starting with ':' are comments; unknown
fields are ignored. ``raw`` keeps the event's exact bytes, so a re-encode is not
needed to replay or convert it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    raw: bytes = b""


class SSEDecoder:
    # An event larger than this is an error in the stream, not a reason to use
    # unbounded memory (h11 caps incomplete events the same way).
    MAX_EVENT_BYTES = 64 * 1024 * 1024

    def __init__(self) -> None:
        self._buf = b""
        self._raw: list[bytes] = []
        self._raw_size = 0
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._has_fields = False

    def feed(self, data: bytes) -> list[SSEEvent]:
        self._buf += data
        out: list[SSEEvent] = []
        buf = self._buf
        start = 0
        n = len(buf)
        while start < n:
            lf = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, lf if lf != -1 else n)
            if cr != -1:
                end = cr
                if cr + 1 < n:
                    nxt = cr + 2 if buf[cr + 1 : cr + 2] == b"\n" else cr + 1
                else:
                    break  # a lone trailing CR: wait to see if LF follows
            elif lf != -1:
                end = lf
                nxt = lf + 1
            else:
                break
            line = buf[start:end]
            self._raw.append(buf[start:nxt])
            self._raw_size += nxt - start
            if self._raw_size > self.MAX_EVENT_BYTES:
                raise ValueError("SSE event exceeds the size limit")
            event = self._line(line)
            if event is not None:
                out.append(event)
            start = nxt
        self._buf = buf[start:]
        return out

    def flush(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if self._buf:
            rest = self._buf
            self._buf = b""
            line = rest[:-1] if rest.endswith(b"\r") else rest
            self._raw.append(rest)
            ev = self._line(line)
            if ev is not None:
                out.append(ev)
        ev = self._dispatch()
        if ev is not None:
            out.append(ev)
        self._raw = []
        self._raw_size = 0
        return out

    def _line(self, line: bytes) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(b":"):
            return None
        name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        text = value.decode("utf-8", "replace")
        field = name.decode("utf-8", "replace")
        if field == "data":
            self._data.append(text)
            self._has_fields = True
        elif field == "event":
            self._event = text
            self._has_fields = True
        elif field == "id":
            if "\0" not in text:
                self._id = text
            self._has_fields = True
        elif field == "retry":
            if text.isdigit():
                self._retry = int(text)
            self._has_fields = True
        return None

    def _dispatch(self) -> SSEEvent | None:
        raw = b"".join(self._raw)
        self._raw = []
        self._raw_size = 0
        if not self._has_fields:
            return None
        ev = SSEEvent(
            data="\n".join(self._data), event=self._event, id=self._id, retry=self._retry, raw=raw
        )
        self._data = []
        self._event = None
        self._retry = None
        self._has_fields = False
        return ev


def encode_event(
    data: str, event: str | None = None, *, newline: bytes = b"\n", id: str | None = None
) -> bytes:
    """Encode one event; ``newline=b"\\r\\n"`` gives Gemini's CRLF framing."""
    parts: list[bytes] = []
    if event is not None:
        parts.append(b"event: " + event.encode() + newline)
    if id is not None:
        parts.append(b"id: " + id.encode() + newline)
    for line in data.split("\n"):
        parts.append(b"data: " + line.encode() + newline)
    parts.append(newline)
    return b"".join(parts)
