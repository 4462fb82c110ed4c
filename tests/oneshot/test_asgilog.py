"""asgi-replay's log codec: whole logs, every message kind, and errors that name the line."""

from __future__ import annotations

import base64
import json

import pytest

from replaydeck.errors import TapeCorrupt
from replaydeck.oneshot.asgilog import is_asgi_log, parse_log


def b(data: bytes) -> dict[str, str]:
    return {"$base64": base64.b64encode(data).decode()}


def log(*msgs: dict[str, object]) -> bytes:
    return "".join(json.dumps(m) + "\n" for m in msgs).encode()


START = {"type": "http.response.start", "status": 201,
         "headers": [[b(b"Content-Type"), b(b"text/event-stream")], [b(b"x-id"), b(b"\xe9")]]}


def test_parse_keeps_chunk_boundaries_status_and_headers() -> None:
    raw = log(START, {"type": "http.response.body", "body": b(b"data: 1\n\n"), "more_body": True},
              {"type": "http.response.body", "body": b(b"\xff\x00"), "more_body": True},
              {"type": "http.response.body", "body": b(b""), "more_body": False})
    assert is_asgi_log(raw)
    r = parse_log(raw)
    assert r.status == 201
    assert r.headers == (("content-type", "text/event-stream"), ("x-id", "\xe9"))
    assert [c.data for c in r.chunks] == [b"data: 1\n\n", b"\xff\x00"]  # empty end dropped
    assert all(c.delay_ms == 0 for c in r.chunks)


def test_blank_lines_and_other_messages_are_ignored() -> None:
    raw = b"\n" + log(START, {"type": "http.response.trailers", "headers": []},
                      {"type": "http.response.body", "body": "plain text"})
    assert [c.data for c in parse_log(raw).chunks] == [b"plain text"]


def test_a_tape_is_not_a_log() -> None:
    assert not is_asgi_log(b'{\n  "version": 1,\n  "meta": {}\n}\n')
    assert not is_asgi_log(b'{"version": 1}')
    assert not is_asgi_log(b"")


@pytest.mark.parametrize(("raw", "message"), [
    (log({"type": "http.response.body", "body": "x"}), "line 1: body before the response start"),
    (log(START, START), "line 2: a second response start"),
    (log(START) + b"{oops\n", "line 2 is not JSON"),
    (log({"type": "http.response.start", "headers": []}), "line 1: bad response start"),
    (log({"type": "http.response.trailers"}), "no http.response.start message"),
])
def test_errors_name_the_line(raw: bytes, message: str) -> None:
    with pytest.raises(TapeCorrupt, match=message):
        parse_log(raw, path="x.json")
