"""Every provider parser on every recorded fixture: whole, in random splits, truncated, in error.

Expected values are written out from the fixture files (not computed by the code
under test). Hypothesis feeds the same bytes in arbitrary pieces: the summary and
the live events must not depend on where the reads split.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replaydeck.providers import Provider, default_registry
from replaydeck.providers.base import StreamParser
from replaydeck.wire.sse import SSEDecoder
from tests.fakes.providers import content_type, truncate, wire

REG = default_registry(load_entry_points=False)


def provider(name: str) -> Provider:
    p = REG.get(name)
    assert p.name == name
    return p


# (provider, fixture) -> (model, text, [(id, name, args)], stop reason, a usage field and value)
Usage = tuple[str, int] | None
EXPECTED: dict[tuple[str, str], tuple[str | None, str, list[tuple[Any, str, Any]], str, Usage]] = {
    ("openai-chat", "openai_chat_stream_text_usage.sse"):
        ("gpt-4.1-2025-04-14", "Hello there!", [], "stop", ("total_tokens", 22)),
    ("openai-chat", "openai_chat_stream_toolcall.sse"):
        ("gpt-4o-2024-08-06", "", [("call_4XzlGBLtUe9dy3GVNV4jhq7h", "get_weather",
                                    {"city": "New York City"})], "tool_calls", ("total_tokens", 60)),
    ("openai-chat", "openai_chat_nonstream_toolcall.json"):
        ("gpt-4o-2024-08-06", "", [("call_CUdUoJpsWWVdxXntucvnol1M", "get_weather",
                                    {"city": "San Francisco", "state": "CA"})], "tool_calls",
         ("total_tokens", 67)),
    ("openai-responses", "openai_responses_stream_function_call.sse"):
        ("gpt-4.1-2025-04-14", "", [("call_7VaiUXZYuuuwWwviCrckxq6t", "add", {"a": 3, "b": 5})],
         "completed", ("total_tokens", 76)),
    ("openai-responses", "openai_responses_nonstream_function_call.json"):
        ("gpt-4.1-2025-04-14", "", [("call_7VaiUXZYuuuwWwviCrckxq6t", "add", {"a": 3, "b": 5})],
         "completed", ("total_tokens", 76)),
    ("openai-responses", "openai_responses_stream_text.sse"):
        ("gpt-4.1-2025-04-14", "Why did the chicken cross the road?", [], "completed",
         ("total_tokens", 20)),
    ("anthropic", "anthropic_stream_text.sse"):
        ("claude-3-opus-latest", "Hello there!", [], "end_turn", ("output_tokens", 6)),
    ("anthropic", "anthropic_stream_tooluse.sse"):
        ("claude-sonnet-4-20250514", "I'll check the current weather in Paris for you.",
         [("toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather", {"location": "Paris"})], "tool_use",
         ("output_tokens", 65)),
    ("anthropic", "anthropic_nonstream_tooluse.json"):
        ("claude-haiku-4-5-20251001", "Let me check the weather for San Francisco for you in Celsius.",
         [("toolu_01MxFFv4azdWzubHT3dXurMY", "get_weather",
           {"location": "San Francisco, CA", "units": "c"})], "tool_use", ("output_tokens", 88)),
    ("gemini", "gemini_stream_function_call.sse"):
        ("gemini-2.5-flash", "Let me check", [(None, "get_weather", {"city": "Paris"})], "STOP",
         ("totalTokenCount", 115)),
    ("gemini", "gemini_nonstream_function_call.json"):
        ("gemini-2.5-flash", "Let me check", [(None, "get_weather", {"city": "Paris"})], "STOP",
         ("totalTokenCount", 115)),
    ("gemini", "gemini_stream_text.sse"):
        ("gemini-2.5-flash", "Hello there!", [], "STOP", ("totalTokenCount", 7)),
    ("ollama", "ollama_chat_stream_text.ndjson"):
        ("gemma4", "Hello!", [], "stop", ("eval_count", 3)),
    ("ollama", "ollama_chat_stream_toolcall.ndjson"):
        ("llama3.2", "", [("call_k3b7qz1m", "get_weather", {"city": "Tokyo"})], "stop",
         ("eval_count", 15)),
    ("ollama", "ollama_chat_nonstream_toolcall.json"):
        ("llama3.2", "", [("call_k3b7qz1m", "get_weather", {"city": "Tokyo"})], "stop",
         ("eval_count", 15)),
    ("openai-chat", "openai_chat_stream_legacy_function_call.sse"):
        ("gpt-4o-mini-2024-07-18", "", [(None, "get_weather", {"city": "Paris"})], "function_call",
         None),
    ("openai-chat", "openai_chat_stream_parallel_toolcalls.sse"):
        ("gpt-4o-2024-08-06", "", [("call_aaa111", "get_weather", {"city": "Paris"}),
                                   ("call_bbb222", "get_time", {"zone": "CET"})], "tool_calls", None),
    ("openai-completions", "openai_completions_stream_text.sse"):
        ("gpt-3.5-turbo-instruct", "\n\nThis is indeed a test", [], "length", ("total_tokens", 12)),
    ("anthropic", "anthropic_stream_thinking_tooluse.sse"):
        ("claude-sonnet-4-5-20250929", "", [("toolu_01Read", "Read", {"file_path": "/tmp/foo"})],
         "tool_use", ("output_tokens", 30)),
    ("ollama", "ollama_generate_stream_text.ndjson"):
        ("llama3.2", "The sky is blue.", [], "stop", ("eval_count", 5)),
}
STREAMS = [k for k in EXPECTED if content_type(k[1]) != "application/json"]
ERRORS = [("openai-chat", "openai_chat_stream_error.sse", "The server had an error"),
          ("openai-responses", "openai_responses_stream_error.sse", "Something went wrong"),
          ("openai-responses", "openai_responses_stream_failed.sse", "failed to generate"),
          ("anthropic", "anthropic_stream_error.sse", "Overloaded"),
          ("gemini", "gemini_stream_error.sse", "The model is overloaded"),
          ("ollama", "ollama_chat_stream_error.ndjson", "unexpected EOF")]


def run(name: str, fixture: str, pieces: list[bytes], status: int = 200) -> tuple[Any, list[Any]]:
    parser = provider(name).parser(status, content_type(fixture))
    events = []
    for piece in pieces:
        events.extend(parser.feed(piece))
    return parser, events


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(data)]:
        out.append(data[last:p])
        last = p
    return out


@pytest.mark.parametrize(("name", "fixture"), list(EXPECTED), ids=lambda v: str(v))
def test_summary_of_each_fixture(name: str, fixture: str) -> None:
    parser, _ = run(name, fixture, [wire(fixture)])
    assert parser.complete()
    s = parser.summary()
    model, text, calls, stop, usage = EXPECTED[(name, fixture)]
    assert (s.model, s.text, s.stop_reason, s.error) == (model, text, stop, None)
    assert [(c.id, c.name, c.arguments) for c in s.tool_calls] == calls
    if usage is None:
        assert s.usage is None
    else:
        assert s.usage is not None and s.usage[usage[0]] == usage[1]


@pytest.mark.parametrize(("name", "fixture"), STREAMS, ids=lambda v: str(v))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_random_splits_give_the_same_summary_and_live_events(
    name: str, fixture: str, cuts: list[int]
) -> None:
    data = wire(fixture)
    whole, whole_events = run(name, fixture, [data])
    split, split_events = run(name, fixture, splits(data, cuts))
    assert split.complete() and whole.complete()
    assert split.summary() == whole.summary()
    assert split_events == whole_events
    s = whole.summary()
    assert "".join(e.text for e in whole_events if e.kind == "text") == s.text
    assert [e.name for e in whole_events if e.kind == "tool_call"] == [c.name for c in s.tool_calls]


@pytest.mark.parametrize(("name", "fixture"), STREAMS, ids=lambda v: str(v))
def test_byte_by_byte(name: str, fixture: str) -> None:
    data = wire(fixture)
    parser, _ = run(name, fixture, [data[i:i + 1] for i in range(len(data))])
    assert parser.complete()
    assert parser.summary() == run(name, fixture, [data])[0].summary()


@pytest.mark.parametrize(("name", "fixture"), STREAMS, ids=lambda v: str(v))
def test_truncated_stream_is_not_complete(name: str, fixture: str) -> None:
    data = truncate(wire(fixture), content_type(fixture))
    parser, _ = run(name, fixture, [data])
    assert not parser.complete()
    assert parser.stream_error is None


@pytest.mark.parametrize(("name", "fixture", "message"), ERRORS, ids=lambda v: str(v))
@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=5_000), max_size=10))
def test_error_inside_a_200_stream(name: str, fixture: str, message: str, cuts: list[int]) -> None:
    parser, events = run(name, fixture, splits(wire(fixture), cuts))
    assert parser.complete()  # an error ends a stream: it is whole, and recorded as an error
    assert parser.stream_error is not None
    assert message in str(parser.stream_error.get("message"))
    s = parser.summary()
    assert s.error is not None and message in str(s.error.get("message"))
    assert [e.kind for e in events][-1] == "error"


@pytest.mark.parametrize(("name", "fixture", "message"), [
    ("openai-chat", "openai_error_400.json", "Input tokens exceed"),
    ("openai-responses", "openai_error_400.json", "Input tokens exceed"),
    ("anthropic", "anthropic_error_529.json", "Overloaded"),
    ("gemini", "gemini_error.json", "API key not valid"),
    ("ollama", "ollama_error.json", "not found"),
])
def test_http_error_bodies_parse_into_the_summary(name: str, fixture: str, message: str) -> None:
    status = 529 if "529" in fixture else 400
    parser, _ = run(name, fixture, [wire(fixture)], status)
    s = parser.summary()
    assert s.error is not None and message in s.error["message"] and s.error["status"] == status


def test_every_streaming_provider_uses_the_shared_parser() -> None:
    for p in REG.providers:
        if p.name in {"openai-embeddings", "openai-models"}:
            continue
        assert isinstance(p.parser(200, "text/event-stream"), StreamParser) or p.name == "openai-chat"


def test_anthropic_thinking_and_signature_are_kept_both_ways() -> None:
    from tests.providers.test_conversions import tape

    fixture = "anthropic_stream_thinking_tooluse.sse"
    parser, _ = run("anthropic", fixture, [wire(fixture)])
    assert parser.summary().extra == {"thinking": "The user wants me to read the foo file."}
    p = provider("anthropic")
    got = p.to_body(tape("anthropic", wire(fixture), "text/event-stream"), {})
    assert got is not None
    body = orjson.loads(got[1])
    assert body["content"][0] == {"type": "thinking", "signature": "Eu8BCkYICxgCKkBsig",
                                  "thinking": "The user wants me to read the foo file."}
    assert body["usage"] == {"input_tokens": 40, "output_tokens": 30}
    back = p.to_stream(tape("anthropic", got[1], "application/json"), {})
    assert back is not None
    again, _ = run("anthropic", fixture, back)
    assert again.summary() == parser.summary()
    assert b"signature_delta" in b"".join(back) and b"thinking_delta" in b"".join(back)


def test_gemini_json_array_stream_and_path_rules() -> None:
    p = provider("gemini")
    chunks = [orjson.loads(e.data) for e in SSEDecoder().feed(wire("gemini_stream_text.sse"))]
    s = p.summarize_body(200, "application/json", orjson.dumps(chunks))
    assert (s.text, s.stop_reason) == ("Hello there!", "STOP")
    stream = "/v1/models/gemini-2.5-flash:streamGenerateContent"
    assert p.request_stream(stream, "alt=sse", None) is True
    assert p.request_stream(stream, "", None) is None  # a JSON-array stream: as recorded
    assert p.request_stream("/v1beta/models/x:generateContent", "", None) is False
    assert p.request_stream("/v1beta/models/x:countTokens", "", None) is None
    assert p.model(stream, None) == "gemini-2.5-flash"
    assert p.key_query([["alt", "sse"], ["key", "k"]]) == [["key", "k"]]
    assert p.key_query([["alt", "json"]]) == [["alt", "json"]]
    assert REG.for_request("GET", "/v1beta/models/gemini-2.5-flash").name == "gemini"
    assert REG.for_request("GET", "/v1/models/gpt-4o").name == "openai-models"


def test_ollama_request_stream_defaults() -> None:
    p = provider("ollama")
    assert p.request_stream("/api/chat", "", {"model": "m"}) is True
    assert p.request_stream("/api/generate", "", {"model": "m", "stream": False}) is False
    assert p.request_stream("/api/embed", "", {"model": "m"}) is None
    assert not p.match("POST", "/api/unknown-thing")
    assert p.request_stream("/api/pull", "", {"model": "m"}) is True
    pull = b'{"status":"pulling manifest"}\n{"status":"verifying"}\n{"status":"success"}\n'
    cut, whole = p.parser(200, "application/x-ndjson"), p.parser(200, "application/x-ndjson")
    cut.feed(pull[:-21])
    whole.feed(pull)
    assert not cut.complete() and whole.complete()


def test_summary_to_json_matches_a_deep_conversion_of_every_field() -> None:
    """to_json is written by hand (asdict deep-copies, and was a third of saving a
    recording): it must keep every field, so a field added later is not dropped."""
    from dataclasses import asdict, fields

    from replaydeck.providers.base import Summary, ToolCall

    full = Summary(model="m", text="t", tool_calls=(ToolCall("c1", "f", {"a": [1]}),),
                   stop_reason="stop", usage={"in": 1}, error={"type": "x"}, extra={"k": {"v": 1}})
    assert all(getattr(full, f.name) not in (None, "", (), {}) for f in fields(Summary))
    expected = asdict(full)
    expected["tool_calls"] = [asdict(t) for t in full.tool_calls]
    assert full.to_json() == expected
    bare = Summary().to_json()
    assert "extra" not in bare and bare["tool_calls"] == [] and bare["usage"] is None
