"""One call per real SDK, reduced to what the matrix compares: text, tool calls, usage, finish.

``root`` is where the SDK is pointed: the fake upstream itself (direct) or the proxy.
Each SDK gets the base URL it documents: openai ``<root>/v1``; anthropic, Gemini and
Ollama the host plus the proxy's built-in route prefix (``/anthropic``, ``/gemini``,
``/ollama``), or the bare host when talking to the upstream directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anthropic
import ollama
import openai
from google import genai
from google.genai import types as gtypes

from tests.support import FAKE_KEYS

OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY = FAKE_KEYS

SDKS = ("openai-chat", "openai-responses", "anthropic", "gemini", "ollama")
PREFIX = {"openai-chat": "", "openai-responses": "", "anthropic": "/anthropic",
          "gemini": "/gemini", "ollama": "/ollama"}

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@dataclass(frozen=True)
class Result:
    text: str
    tool_calls: tuple[tuple[str | None, str, str], ...]  # (id, name, canonical JSON args)
    usage: str  # canonical JSON of the SDK's usage object
    finish: str | None


def _args(value: Any) -> str:
    if isinstance(value, str):
        value = json.loads(value) if value else {}
    return json.dumps(value, sort_keys=True)


def _usage(obj: Any) -> str:
    if obj is None:
        return "null"
    data = obj.model_dump(exclude_none=True) if hasattr(obj, "model_dump") else obj
    return json.dumps(data, sort_keys=True)


def base_url(sdk: str, root: str, proxied: bool) -> str:
    return root + (PREFIX[sdk] if proxied else "")


def ask(sdk: str, url: str, prompt: str, tools: bool, stream: bool,
        headers: dict[str, str] | None = None) -> Result:
    return ASK[sdk](url, prompt, tools, stream, headers or {})


# ---------------------------------------------------------------- openai chat


def openai_client(url: str, headers: dict[str, str]) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=OPENAI_KEY, max_retries=0,
                         default_headers=headers)


def ask_chat(url: str, prompt: str, tools: bool, stream: bool, headers: dict[str, str]) -> Result:
    c = openai_client(url, headers)
    kw: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": prompt}]}
    if tools:
        kw["tools"] = [{"type": "function",
                        "function": {"name": "get_weather", "parameters": WEATHER}}]
    if not stream:
        r = c.chat.completions.create(**kw)
        msg = r.choices[0].message
        calls = tuple((t.id, t.function.name, _args(t.function.arguments))  # type: ignore[union-attr]
                      for t in msg.tool_calls or [])
        return Result(msg.content or "", calls, _usage(r.usage), r.choices[0].finish_reason)
    text, finish, usage = [], None, None
    parts: dict[int, list[Any]] = {}
    for chunk in c.chat.completions.create(stream=True, stream_options={"include_usage": True},
                                           **kw):
        usage = chunk.usage or usage
        for ch in chunk.choices:
            text.append(ch.delta.content or "")
            finish = ch.finish_reason or finish
            for tc in ch.delta.tool_calls or []:
                entry = parts.setdefault(tc.index, [None, "", ""])
                entry[0] = tc.id or entry[0]
                entry[1] += (tc.function.name or "") if tc.function else ""
                entry[2] += (tc.function.arguments or "") if tc.function else ""
    calls = tuple((p[0], p[1], _args(p[2])) for _, p in sorted(parts.items()))
    return Result("".join(text), calls, _usage(usage), finish)


# ---------------------------------------------------------------- openai responses


def _response_result(r: Any, text: str | None = None) -> Result:
    calls = tuple((i.call_id, i.name, _args(i.arguments)) for i in r.output
                  if i.type == "function_call")
    return Result(r.output_text if text is None else text, calls, _usage(r.usage), r.status)


def ask_responses(url: str, prompt: str, tools: bool, stream: bool,
                  headers: dict[str, str]) -> Result:
    c = openai_client(url, headers)
    kw: dict[str, Any] = {"model": "gpt-4.1", "input": prompt}
    if tools:
        kw["tools"] = [{"type": "function", "name": "add", "parameters": WEATHER, "strict": False}]
    if not stream:
        return _response_result(c.responses.create(**kw))
    deltas, final = [], None
    for event in c.responses.create(stream=True, **kw):
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        elif event.type == "response.completed":
            final = event.response
    assert final is not None, "no response.completed event"
    assert "".join(deltas) == final.output_text
    return _response_result(final, "".join(deltas))


# ---------------------------------------------------------------- anthropic


def anthropic_client(url: str, headers: dict[str, str]) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=ANTHROPIC_KEY, max_retries=0,
                               default_headers=headers)


def _message_result(m: Any, text: str | None = None) -> Result:
    calls = tuple((b.id, b.name, _args(b.input)) for b in m.content if b.type == "tool_use")
    joined = "".join(b.text for b in m.content if b.type == "text")
    return Result(joined if text is None else text, calls, _usage(m.usage), m.stop_reason)


def ask_anthropic(url: str, prompt: str, tools: bool, stream: bool,
                  headers: dict[str, str]) -> Result:
    c = anthropic_client(url, headers)
    kw: dict[str, Any] = {"model": "claude-haiku-4-5", "max_tokens": 256,
                          "messages": [{"role": "user", "content": prompt}]}
    if tools:
        kw["tools"] = [{"name": "get_weather", "input_schema": WEATHER}]
    if not stream:
        return _message_result(c.messages.create(**kw))
    with c.messages.stream(**kw) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    return _message_result(final, text)


# ---------------------------------------------------------------- gemini


def gemini_client(url: str, headers: dict[str, str]) -> genai.Client:
    return genai.Client(api_key=GOOGLE_KEY,
                        http_options=gtypes.HttpOptions(base_url=url, headers=headers))


def ask_gemini(url: str, prompt: str, tools: bool, stream: bool, headers: dict[str, str]) -> Result:
    c = gemini_client(url, headers)
    config = None
    if tools:
        config = gtypes.GenerateContentConfig(tools=[gtypes.Tool(function_declarations=[
            gtypes.FunctionDeclaration(name="get_weather", parameters_json_schema=WEATHER)])])
    chunks = (list(c.models.generate_content_stream(model="gemini-2.5-flash", contents=prompt,
                                                    config=config))
              if stream else
              [c.models.generate_content(model="gemini-2.5-flash", contents=prompt,
                                         config=config)])
    text, calls, finish, usage = [], [], None, None
    for chunk in chunks:
        usage = chunk.usage_metadata or usage
        for cand in chunk.candidates or []:
            finish = cand.finish_reason or finish
            for part in (cand.content.parts if cand.content else None) or []:
                if part.text:
                    text.append(part.text)
                if part.function_call:
                    fc = part.function_call
                    calls.append((fc.id, fc.name or "", _args(fc.args or {})))
    return Result("".join(text), tuple(calls), _usage(usage), str(finish) if finish else None)


# ---------------------------------------------------------------- ollama


def ollama_client(url: str, headers: dict[str, str]) -> ollama.Client:
    return ollama.Client(host=url, headers=headers)


def ask_ollama(url: str, prompt: str, tools: bool, stream: bool, headers: dict[str, str]) -> Result:
    c = ollama_client(url, headers)
    kw: dict[str, Any] = {"model": "llama3.2", "messages": [{"role": "user", "content": prompt}]}
    if tools:
        kw["tools"] = [{"type": "function", "function": {
            "name": "get_weather", "description": "weather", "parameters": WEATHER}}]
    chunks = list(c.chat(stream=True, **kw)) if stream else [c.chat(stream=False, **kw)]
    text, calls = [], []
    for chunk in chunks:
        text.append(chunk.message.content or "")
        for tc in chunk.message.tool_calls or []:
            calls.append((None, tc.function.name, _args(dict(tc.function.arguments))))
    last = chunks[-1]
    usage = {"prompt_eval_count": last.prompt_eval_count, "eval_count": last.eval_count}
    return Result("".join(text), tuple(calls), _usage(usage), last.done_reason)


ASK = {"openai-chat": ask_chat, "openai-responses": ask_responses, "anthropic": ask_anthropic,
       "gemini": ask_gemini, "ollama": ask_ollama}
