"""OpenAI Chat Completions, and every server that speaks it (vLLM, LiteLLM, Azure, Ollama /v1).

Stream framing: data-only SSE (no ``event:`` lines: openai <= 1.97 mis-parses named
events), one ``chat.completion.chunk`` per event, ``data: [DONE]`` at the end, and
a mid-stream error as a data event with a top-level ``error``.

Stream -> body follows the SDK's own accumulation (``get_final_completion``): the
first chunk is the snapshot, deltas merge per choice, strings concatenate, tool
calls merge by ``index``, ``usage`` comes from the last chunk that has it.
Body -> stream follows the recipe checked against the SDK: role chunk, content,
each tool call (head fragment then arguments), finish chunk, the usage chunk only
when the request asked for ``include_usage``, then ``[DONE]``.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from replaydeck.models import Tape
from replaydeck.providers.base import (
    LiveEvent,
    Provider,
    ResponseParser,
    Summary,
    ToolCall,
    error_of,
    parse_arguments,
)
from replaydeck.wire.http import is_event_stream
from replaydeck.wire.sse import SSEDecoder


class ChatAccumulator:
    """Folds chat.completion.chunk objects into one chat.completion (pure)."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] | None = None
        self.choices: dict[int, dict[str, Any]] = {}
        self.usage: Any = None
        self.error: dict[str, Any] | None = None
        self.done = False

    def add(self, chunk: dict[str, Any]) -> list[LiveEvent]:
        events: list[LiveEvent] = []
        if chunk.get("error"):
            err = chunk["error"]
            self.error = err if isinstance(err, dict) else {"message": str(err)}
            events.append(LiveEvent("error", text=str(self.error.get("message", ""))))
            return events
        if self.snapshot is None:
            self.snapshot = {
                k: v for k, v in chunk.items() if k not in ("choices", "usage", "obfuscation")
            }
            self.snapshot["object"] = "chat.completion"
        else:
            for k in ("system_fingerprint", "service_tier", "model"):
                if chunk.get(k) is not None:
                    self.snapshot[k] = chunk[k]
        if chunk.get("usage") is not None:
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            idx = int(choice.get("index", 0))
            acc = self.choices.setdefault(
                idx,
                {"index": idx, "message": {"role": "assistant", "content": None},
                 "logprobs": None, "finish_reason": None},
            )
            delta = choice.get("delta") or {}
            msg = acc["message"]
            if delta.get("role"):
                msg["role"] = delta["role"]
            if delta.get("content") is not None:
                msg["content"] = (msg.get("content") or "") + delta["content"]
                if delta["content"]:
                    events.append(LiveEvent("text", text=delta["content"]))
            if delta.get("refusal") is not None:
                msg["refusal"] = (msg.get("refusal") or "") + delta["refusal"]
            elif "refusal" in delta and "refusal" not in msg:
                msg["refusal"] = None
            for k in ("reasoning", "reasoning_content"):
                if delta.get(k):
                    msg[k] = (msg.get(k) or "") + delta[k]
            if delta.get("function_call"):
                fc = msg.setdefault("function_call", {"name": "", "arguments": ""})
                frag = delta["function_call"]
                if frag.get("name"):
                    fc["name"] += frag["name"]
                    events.append(LiveEvent("tool_call", name=fc["name"]))
                fc["arguments"] += frag.get("arguments") or ""
            for frag in delta.get("tool_calls") or []:
                calls = msg.setdefault("tool_calls", [])
                tidx = int(frag.get("index", len(calls)))
                while len(calls) <= tidx:
                    calls.append(
                        {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
                    )
                call = calls[tidx]
                if frag.get("id"):
                    call["id"] = frag["id"]
                if frag.get("type"):
                    call["type"] = frag["type"]
                fn = frag.get("function") or {}
                if fn.get("name"):
                    call["function"]["name"] += fn["name"]
                    events.append(LiveEvent("tool_call", name=call["function"]["name"]))
                call["function"]["arguments"] += fn.get("arguments") or ""
            if choice.get("finish_reason") is not None:
                acc["finish_reason"] = choice["finish_reason"]
            if choice.get("logprobs") is not None:
                lp = choice["logprobs"]
                if acc["logprobs"] is None:
                    acc["logprobs"] = copy.deepcopy(lp)
                else:
                    for k in ("content", "refusal"):
                        if lp.get(k):
                            # extend in place (the lists are our deep copy): a long stream
                            # with logprobs must not copy the whole list at every chunk
                            have = acc["logprobs"].get(k)
                            if have is None:
                                acc["logprobs"][k] = list(lp[k])
                            else:
                                have.extend(lp[k])
        return events

    def completion(self) -> dict[str, Any]:
        out = dict(self.snapshot or {"object": "chat.completion"})
        out["choices"] = [self.choices[i] for i in sorted(self.choices)]
        out["usage"] = self.usage
        return out


def summarize_completion(body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
    text_parts: list[str] = []
    calls: list[ToolCall] = []
    stop = None
    for choice in body.get("choices") or []:
        msg = choice.get("message") or {}
        if isinstance(msg.get("content"), str):
            text_parts.append(msg["content"])
        for tc in msg.get("tool_calls") or []:
            fn = tc.get("function") or {}
            calls.append(ToolCall(tc.get("id"), fn.get("name", ""), parse_arguments(fn.get("arguments"))))
        if msg.get("function_call"):
            fc = msg["function_call"]
            calls.append(ToolCall(None, fc.get("name", ""), parse_arguments(fc.get("arguments"))))
        stop = stop or choice.get("finish_reason")
    err = error or (body.get("error") if isinstance(body.get("error"), dict) else None)
    return Summary(
        model=body.get("model"),
        text="".join(text_parts),
        tool_calls=tuple(calls),
        stop_reason=stop,
        usage=body.get("usage"),
        error=err,
    )


class ChatParser(ResponseParser):
    def __init__(self, provider: Provider, status: int, content_type: str) -> None:
        super().__init__(provider, status, content_type)
        self.streaming = is_event_stream(content_type)
        self.sse = SSEDecoder()
        self.acc = ChatAccumulator()

    def feed(self, data: bytes) -> list[LiveEvent]:
        if not self.streaming:
            return super().feed(data)
        return self._events(self.sse.feed(data))

    def _events(self, events: list[Any]) -> list[LiveEvent]:
        out: list[LiveEvent] = []
        for ev in events:
            if ev.data.startswith("[DONE]"):
                self.acc.done = True
                continue
            try:
                chunk = orjson.loads(ev.data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(chunk, dict):
                out.extend(self.acc.add(chunk))
        return out

    def end(self) -> None:
        if self.streaming:
            self._events(self.sse.flush())

    def complete(self) -> bool:
        return not self.streaming or self.acc.done or self.acc.error is not None

    @property
    def stream_error(self) -> dict[str, Any] | None:
        return self.acc.error if self.streaming else None

    def summary(self) -> Summary:
        if not self.streaming:
            return self.provider.summarize_body(
                self.status, self.content_type, b"".join(self._parts)
            )
        self._events(self.sse.flush())
        return summarize_completion(self.acc.completion(), self.acc.error)


class OpenAIChat(Provider):
    name = "openai-chat"
    title = "OpenAI Chat Completions"

    def match(self, method: str, path: str) -> bool:
        return method == "POST" and path.rstrip("/").endswith("/chat/completions")

    def parser(self, status: int, content_type: str) -> ResponseParser:
        return ChatParser(self, status, content_type)

    def request_stream(self, path: str, query: str, body: Any) -> bool | None:
        # OpenAI's default is a non-streamed reply (playingpack got this wrong)
        return bool(body.get("stream")) if isinstance(body, dict) else None

    def summarize_body(self, status: int, content_type: str, body: bytes) -> Summary:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return super().summarize_body(status, content_type, body)
        if not isinstance(data, dict):
            return Summary()
        if status >= 400 or "error" in data:
            return Summary(error={"status": status, **error_of(data)})
        return summarize_completion(data)

    def to_body(self, tape: Tape, request_body: Any) -> tuple[int, bytes] | None:
        if not is_event_stream(tape.content_type):
            return None
        parser = ChatParser(self, tape.status, tape.content_type)
        for chunk in tape.chunks:
            parser.feed(chunk.data)
        parser._events(parser.sse.flush())
        if parser.acc.error is not None:
            return 500, orjson.dumps({"error": parser.acc.error})
        return tape.status, orjson.dumps(parser.acc.completion())

    def without_usage(self, tape: Tape) -> list[tuple[bytes, float]] | None:
        if not is_event_stream(tape.content_type):
            return None
        decoder = SSEDecoder()
        out: list[tuple[bytes, float]] = []
        dropped = False
        for chunk in tape.chunks:
            kept = []
            for ev in decoder.feed(chunk.data):
                if _is_usage_only(ev.data):
                    dropped = True
                    continue
                kept.append(ev.raw)
            out.append((b"".join(kept), chunk.delay_ms))
        rest = decoder.flush()
        if rest:
            out.append((b"".join(ev.raw for ev in rest if not _is_usage_only(ev.data)), 0.0))
        return out if dropped else None

    def to_stream(self, tape: Tape, request_body: Any) -> list[bytes] | None:
        if is_event_stream(tape.content_type):
            return None
        try:
            body = orjson.loads(tape.body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(body, dict) or "choices" not in body:
            return None
        include_usage = bool(
            isinstance(request_body, dict)
            and isinstance(request_body.get("stream_options"), dict)
            and request_body["stream_options"].get("include_usage")
        )
        return completion_to_chunks(body, include_usage)


def _is_usage_only(data: str) -> bool:
    """The extra chunk ``include_usage`` adds: no choices, a usage object."""
    if '"usage"' not in data or '"choices":[]' not in data.replace(" ", ""):
        return False
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and obj.get("choices") == [] and bool(obj.get("usage"))


def _frame(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def completion_to_chunks(body: dict[str, Any], include_usage: bool) -> list[bytes]:
    base: dict[str, Any] = {
        k: body[k]
        for k in ("id", "object", "created", "model", "service_tier", "system_fingerprint")
        if k in body
    }
    base["object"] = "chat.completion.chunk"

    def chunk(idx: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = dict(base)
        obj["choices"] = [{"index": idx, "delta": delta, "logprobs": None, "finish_reason": finish}]
        if include_usage:
            obj["usage"] = None
        return _frame(obj)

    out: list[bytes] = []
    for choice in body.get("choices") or []:
        idx = choice.get("index", 0)
        msg = choice.get("message") or {}
        calls = msg.get("tool_calls") or []
        content = msg.get("content")
        first: dict[str, Any] = {"role": msg.get("role", "assistant")}
        first["content"] = "" if content is not None or not (calls or msg.get("function_call")) else None
        if "refusal" in msg:
            first["refusal"] = None
        out.append(chunk(idx, first))
        if content:
            out.append(chunk(idx, {"content": content}))
        if msg.get("refusal"):
            out.append(chunk(idx, {"refusal": msg["refusal"]}))
        for j, call in enumerate(calls):
            fn = call.get("function") or {}
            head = {
                "index": j,
                "id": call.get("id"),
                "type": call.get("type", "function"),
                "function": {"name": fn.get("name", ""), "arguments": ""},
            }
            out.append(chunk(idx, {"tool_calls": [head]}))
            if fn.get("arguments"):
                out.append(
                    chunk(idx, {"tool_calls": [{"index": j, "function": {"arguments": fn["arguments"]}}]})
                )
        if msg.get("function_call"):
            fc = msg["function_call"]
            out.append(chunk(idx, {"function_call": {"name": fc.get("name", ""), "arguments": ""}}))
            if fc.get("arguments"):
                out.append(chunk(idx, {"function_call": {"arguments": fc["arguments"]}}))
        out.append(chunk(idx, {}, choice.get("finish_reason") or "stop"))
    if include_usage and body.get("usage") is not None:
        obj = dict(base)
        obj["choices"] = []
        obj["usage"] = body["usage"]
        out.append(_frame(obj))
    out.append(b"data: [DONE]\n\n")
    return out
