"""A tape as a person reads it: who said what in the request, and what came back.

Request bodies differ by API family; this reads the common shapes without caring
which provider wrote them: ``messages`` (OpenAI chat, Anthropic, Ollama) with
``system`` (Anthropic), ``input``/``instructions`` (OpenAI Responses), ``contents``
(Gemini) and ``prompt`` (completions, Ollama generate). The reply is the summary
the provider's parser wrote into the tape (text, tool calls, stop reason), made
again from the chunks when an older tape has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from replaydeck.models import Tape
from replaydeck.providers import default_registry


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    text: str


def _content(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(t for t in (_content(v) for v in value) if t)
    if isinstance(value, dict):
        for key in ("text", "content", "input_text", "output_text"):
            if isinstance(value.get(key), str | list):
                return _content(value[key])
        if value.get("type") in ("image_url", "image", "input_image"):
            return "[image]"
        if "functionCall" in value or "function_call" in value:
            call = value.get("functionCall") or value.get("function_call")
            return f"[call {orjson.dumps(call).decode()}]"
        if value.get("type") == "tool_use":
            return f"[call {value.get('name')}({orjson.dumps(value.get('input')).decode()})]"
        if value.get("type") == "tool_result":
            return f"[tool result] {_content(value.get('content'))}"
        if "parts" in value:
            return _content(value["parts"])
        return orjson.dumps(value).decode()
    return str(value)


def _message(m: Any) -> Turn:
    if not isinstance(m, dict):
        return Turn("user", _content(m))
    role = str(m.get("role") or m.get("type") or "user")
    text = _content(m.get("content", m.get("parts")))
    calls = m.get("tool_calls") or []
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function", {}) if isinstance(call, dict) else {}
        text += f"\n[call {fn.get('name')}({fn.get('arguments')})]"
    if m.get("tool_call_id"):
        role = f"tool {m['tool_call_id']}"
    return Turn(role, text.strip())


def request_turns(tape: Tape) -> list[Turn]:
    body = tape.request_body
    if not isinstance(body, dict):
        return [Turn("body", _content(body))] if body is not None else []
    turns: list[Turn] = []
    for key in ("system", "instructions", "system_instruction", "systemInstruction"):
        if body.get(key):
            turns.append(Turn("system", _content(body[key])))
    for key in ("messages", "contents"):
        if isinstance(body.get(key), list):
            turns.extend(_message(m) for m in body[key])
    if "input" in body:
        value = body["input"]
        turns.extend(_message(m) for m in value) if isinstance(value, list) else turns.append(
            Turn("user", _content(value)))
    if isinstance(body.get("prompt"), str):
        turns.append(Turn("user", body["prompt"]))
    return turns


def reply(tape: Tape) -> dict[str, Any]:
    """The tape's summary: ``text``, ``tool_calls``, ``stop_reason``, ``usage``, ``error``."""
    if tape.summary:
        return tape.summary
    provider = default_registry(load_entry_points=False).get(tape.provider)
    return provider.summarize_tape(tape).to_json()
