"""Reading who said what from the request bodies of each API family."""

from __future__ import annotations

from typing import Any

from replaydeck.models import Chunk, Tape
from replaydeck.tapetools.conversation import reply, request_turns


def tape(body: Any, summary: dict[str, Any] | None = None) -> Tape:
    chunk = Chunk(b'{"choices":[{"index":0,"message":{"role":"assistant","content":"made again"},'
                  b'"finish_reason":"stop"}]}', 1.0)
    return Tape(key="k", id="i", recorded_at="", provider="openai-chat", method="POST", route="",
                path="/v1/chat/completions", query="", request_headers={}, request_body=body,
                stream=False, status=200, response_headers={"content-type": "application/json"},
                chunks=(chunk,), summary=summary or {})


def turns(body: Any) -> list[tuple[str, str]]:
    return [(t.role, t.text) for t in request_turns(tape(body))]


def test_openai_chat_with_tool_calls_and_results() -> None:
    body = {"messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url"}]},
        {"role": "assistant", "content": None,
         "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"}]}
    assert turns(body) == [("system", "sys"), ("user", "look\n[image]"),
                           ("assistant", "[call f({})]"), ("tool c1", "42")]


def test_anthropic_gemini_responses_and_prompt() -> None:
    assert turns({"system": "be kind", "messages": [{"role": "user", "content": "hi"}]}) == [
        ("system", "be kind"), ("user", "hi")]
    assert turns({"contents": [{"role": "user", "parts": [{"text": "g"}]}]}) == [("user", "g")]
    assert turns({"instructions": "i", "input": "r"}) == [("system", "i"), ("user", "r")]
    assert turns({"prompt": "p"}) == [("user", "p")]
    assert turns(None) == []


def test_reply_uses_the_summary_or_makes_it_again() -> None:
    assert reply(tape({}, {"text": "stored"}))["text"] == "stored"
    assert reply(tape({}))["text"] == "made again"
