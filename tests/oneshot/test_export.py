"""The exported app's source, run in-process here (the CLI test runs it under uvicorn)."""

from __future__ import annotations

import ast
import asyncio
import sys
from typing import Any

import pytest

from replaydeck.models import Chunk, Tape
from replaydeck.oneshot.export import render


def tape(chunks: tuple[Chunk, ...], ctype: str = "text/event-stream") -> Tape:
    return Tape(key="k", id="t1", recorded_at="", provider="openai-chat", method="POST", route="",
                path="/v1/chat/completions", query="", request_headers={}, request_body=None,
                stream=True, status=200, response_headers={"content-type": ctype,
                                                           "content-length": "99", "x-a": "b"},
                chunks=chunks)


def load(source: str, monkeypatch: pytest.MonkeyPatch, timing: str) -> Any:
    monkeypatch.setenv("REPLAY_TIMING", timing)
    namespace: dict[str, Any] = {}
    exec(compile(source, "app.py", "exec"), namespace)
    return namespace["app"]


async def call(app: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "http.disconnect"}

    async def send(msg: dict[str, Any]) -> None:
        sent.append(msg)

    await app({"type": "http", "method": "POST", "path": "/"}, receive, send)
    return sent


CHUNKS = (Chunk(b"data: caf\xc3\xa9\n\n", 5.0), Chunk(b"\xff\xfe", 1.0), Chunk(b"data: [DONE]\n\n", 1.0))


def test_source_uses_only_the_standard_library() -> None:
    source = render(tape(CHUNKS), "rec.json")
    mods = {n.names[0].name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import)}
    assert mods == {"asyncio", "base64", "os"} and mods <= set(sys.stdlib_module_names)
    assert "café" in source  # text chunks stay readable
    assert "content-length" not in source.split("HEADERS =")[1].split("CHUNKS")[0]


def test_streamed_replay_sends_every_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    app = load(render(tape(CHUNKS), "rec.json"), monkeypatch, "original")
    sent = asyncio.run(call(app))
    assert sent[0]["status"] == 200 and (b"x-a", b"b") in sent[0]["headers"]
    assert all(k != b"content-length" for k, _ in sent[0]["headers"])
    assert [m["body"] for m in sent[1:-1]] == [c.data for c in CHUNKS]
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_instant_replay_sends_one_body_with_length(monkeypatch: pytest.MonkeyPatch) -> None:
    app = load(render(tape(CHUNKS, "application/json"), "rec.json"), monkeypatch, "instant")
    sent = asyncio.run(call(app))
    body = b"".join(c.data for c in CHUNKS)
    assert (b"content-length", str(len(body)).encode()) in sent[0]["headers"]
    assert sent[1] == {"type": "http.response.body", "body": body, "more_body": False}


def test_bad_timing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match="REPLAY_TIMING must be"):
        load(render(tape(CHUNKS), "rec.json"), monkeypatch, "fast")
