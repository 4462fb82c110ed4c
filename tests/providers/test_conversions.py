"""Stream <-> body conversion for every provider, and the framing each SDK needs (pure).

A converted reply must say the same thing (summary) as the recording, and be framed
the way the provider's SDK parses it: no ``event:`` lines for Chat and legacy
completions, required for Anthropic and Responses, ``data: `` + CRLF for Gemini, one
JSON object per line and no blank line for Ollama; usage chunks only when asked.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from replaydeck.models import Chunk, Tape
from replaydeck.providers import default_registry
from replaydeck.wire.sse import SSEDecoder
from tests.fakes.providers import content_type, wire
from tests.providers.test_parsers import EXPECTED

REG = default_registry(load_entry_points=False)


def tape(provider: str, data: bytes, ctype: str, status: int = 200,
         pieces: int = 37) -> Tape:
    chunks = tuple(Chunk(data[i:i + pieces], 1.0) for i in range(0, len(data), pieces))
    return Tape(key="k", id="t", recorded_at="", provider=provider, method="POST", route="",
                path="/", query="", request_headers={}, request_body={}, stream=None,
                status=status, response_headers={"content-type": ctype}, chunks=chunks)


def summarize(provider: str, status: int, ctype: str, data: bytes) -> Any:
    parser = REG.get(provider).parser(status, ctype)
    parser.feed(data)
    assert parser.complete()
    return parser.summary()


def same_meaning(a: Any, b: Any) -> None:
    assert (a.model, a.text, a.stop_reason, a.usage, a.error) == (
        b.model, b.text, b.stop_reason, b.usage, b.error)
    assert [(c.id, c.name, c.arguments) for c in a.tool_calls] == [
        (c.id, c.name, c.arguments) for c in b.tool_calls]


STREAMS = [k for k in EXPECTED if content_type(k[1]) != "application/json"]
BODIES = [k for k in EXPECTED if content_type(k[1]) == "application/json"] + [
    ("openai-chat", "openai_chat_nonstream_text.json"),
    ("openai-responses", "openai_responses_nonstream_text.json"),
    ("anthropic", "anthropic_nonstream_text.json"),
    ("gemini", "gemini_nonstream_text.json"),
    ("ollama", "ollama_chat_nonstream_text.json"),
]
STREAM_TYPE = {"ollama": "application/x-ndjson"}


@pytest.mark.parametrize(("name", "fixture"), STREAMS, ids=lambda v: str(v))
def test_stream_to_body_says_the_same(name: str, fixture: str) -> None:
    ctype = content_type(fixture)
    t = tape(name, wire(fixture), ctype)
    converted = REG.get(name).to_body(t, {})
    assert converted is not None
    status, body = converted
    assert status == 200 and isinstance(orjson.loads(body), dict)
    same_meaning(summarize(name, status, "application/json", body),
                 summarize(name, 200, ctype, wire(fixture)))


@pytest.mark.parametrize(("name", "fixture"), BODIES, ids=lambda v: str(v))
def test_body_to_stream_says_the_same_and_is_framed_for_the_sdk(name: str, fixture: str) -> None:
    provider = REG.get(name)
    t = tape(name, wire(fixture), "application/json")
    # usage asked for, so that a Chat stream carries it too (it is only sent when asked)
    pieces = provider.to_stream(t, {"stream": True, "stream_options": {"include_usage": True}})
    assert pieces
    data = b"".join(pieces)
    ctype = STREAM_TYPE.get(name, "text/event-stream")
    assert provider.stream_content_type == ctype
    same_meaning(summarize(name, 200, ctype, data),
                 summarize(name, 200, "application/json", wire(fixture)))
    if name == "ollama":
        lines = data.split(b"\n")
        assert lines[-1] == b"" and all(lines[:-1])  # newline-terminated, no blank line
        assert orjson.loads(lines[-2])["done"] is True
        return
    if name == "gemini":
        assert data.startswith(b"data: ") and data.endswith(b"\r\n\r\n")
        assert all(line.startswith(b"data: ") for line in data.split(b"\r\n") if line)
        return
    events = SSEDecoder().feed(data)
    assert events
    if name in ("anthropic", "openai-responses"):
        assert all(e.event == orjson.loads(e.data)["type"] for e in events)
    else:
        assert all(e.event is None for e in events)
    if name == "openai-responses":
        assert [orjson.loads(e.data)["sequence_number"] for e in events] == list(range(len(events)))
        assert events[-1].event == "response.completed"
    if name == "anthropic":
        assert events[0].event == "message_start" and events[-1].event == "message_stop"


@pytest.mark.parametrize("name", ["openai-chat", "openai-completions"])
def test_usage_chunk_only_when_asked(name: str) -> None:
    body = {"id": "x", "object": "chat.completion" if name == "openai-chat" else "text_completion",
            "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         **({"message": {"role": "assistant", "content": "hi"}}
                            if name == "openai-chat" else {"text": "hi"})}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    t = tape(name, orjson.dumps(body), "application/json")
    provider = REG.get(name)
    plain = provider.to_stream(t, {"stream": True})
    asked = provider.to_stream(t, {"stream": True, "stream_options": {"include_usage": True}})
    assert plain and asked
    assert b'"usage":{' not in b"".join(plain)
    last_chunks = [orjson.loads(e.data) for e in SSEDecoder().feed(b"".join(asked))
                   if e.data != "[DONE]"]
    assert last_chunks[-1]["choices"] == [] and last_chunks[-1]["usage"]["total_tokens"] == 2
    assert plain[-1] == asked[-1] == b"data: [DONE]\n\n"
    assert summarize(name, 200, "text/event-stream", b"".join(plain)).text == "hi"


def test_completions_stream_to_body() -> None:
    chunks = b"".join(
        b"data: " + orjson.dumps({"id": "cmpl-1", "object": "text_completion", "created": 1,
                                  "model": "gpt-3.5-turbo-instruct",
                                  "choices": [{"text": t, "index": 0, "logprobs": None,
                                               "finish_reason": f}]}) + b"\n\n"
        for t, f in (("This", None), (" is", None), (" a test", "length"))) + b"data: [DONE]\n\n"
    provider = REG.get("openai-completions")
    status, body = provider.to_body(tape("openai-completions", chunks, "text/event-stream"), {})  # type: ignore[misc]
    out = orjson.loads(body)
    assert out["choices"][0]["text"] == "This is a test"
    assert out["choices"][0]["finish_reason"] == "length" and out["object"] == "text_completion"


@pytest.mark.parametrize(("name", "fixture"), [
    ("openai-chat", "openai_error_400.json"), ("openai-responses", "openai_error_400.json"),
    ("anthropic", "anthropic_error_529.json"), ("gemini", "gemini_error.json"),
    ("ollama", "ollama_error.json")])
def test_recorded_http_errors_are_never_converted(name: str, fixture: str) -> None:
    t = tape(name, wire(fixture), "application/json", status=400)
    assert REG.get(name).to_stream(t, {"stream": True}) is None
    assert REG.get(name).to_body(t, {}) is None


@pytest.mark.parametrize(("name", "fixture", "status"), [
    ("openai-chat", "openai_chat_stream_error.sse", 500),
    ("openai-responses", "openai_responses_stream_error.sse", 500),
    ("anthropic", "anthropic_stream_error.sse", 529),
    ("gemini", "gemini_stream_error.sse", 503),
    ("ollama", "ollama_chat_stream_error.ndjson", 500)])
def test_a_stream_error_becomes_the_providers_http_error(name: str, fixture: str,
                                                         status: int) -> None:
    provider = REG.get(name)
    got = provider.to_body(tape(name, wire(fixture), content_type(fixture)), {})
    assert got is not None and got[0] == status
    s = summarize(name, status, "application/json", got[1])
    assert s.error is not None and s.error["status"] == status


@pytest.mark.parametrize("name", ["openai-chat", "openai-responses", "anthropic", "gemini",
                                  "ollama", "openai-completions"])
def test_error_body_and_stream_error_event_are_provider_shaped(name: str) -> None:
    provider = REG.get(name)
    body = orjson.loads(provider.error_body(404, "no tape", "replaydeck_tape_not_found"))
    s = provider.summarize_body(404, "application/json", orjson.dumps(body))
    assert s.error is not None and s.error["message"] == "no tape"
    tail = provider.stream_error_event("broke", "upstream_error")
    assert tail is not None
    parser = provider.parser(200, provider.stream_content_type)
    parser.feed(tail)
    assert parser.stream_error is not None and "broke" in str(parser.stream_error)


@pytest.mark.parametrize(("name", "fixture"), STREAMS, ids=lambda v: str(v))
def test_round_trip_stream_body_stream(name: str, fixture: str) -> None:
    provider = REG.get(name)
    ctype = content_type(fixture)
    got = provider.to_body(tape(name, wire(fixture), ctype), {})
    assert got is not None
    back = provider.to_stream(tape(name, got[1], "application/json"),
                              {"stream_options": {"include_usage": True}})
    assert back is not None
    same_meaning(summarize(name, 200, provider.stream_content_type, b"".join(back)),
                 summarize(name, 200, ctype, wire(fixture)))
