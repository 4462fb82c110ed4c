"""Newline-delimited JSON decoder (Ollama's stream format), sans-IO.

Feed bytes in any split; each complete non-blank line is returned as its text.
Parsing the JSON is left to the caller so that a bad line can be reported with
its position rather than killing the stream.
"""

from __future__ import annotations


class NDJSONDecoder:
    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        if b"\n" not in self._buf:
            return []
        *lines, self._buf = self._buf.split(b"\n")
        return [ln.strip() for ln in lines if ln.strip()]

    def flush(self) -> list[bytes]:
        rest, self._buf = self._buf.strip(), b""
        return [rest] if rest else []
