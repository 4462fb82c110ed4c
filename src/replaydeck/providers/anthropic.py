"""Anthropic Messages (``POST /v1/messages``).

Stream framing: SSE where every event carries an ``event:`` line equal to the JSON
``type`` (the SDK dispatches on the event name and drops unnamed events, so a
converted stream must keep them). Flow: ``message_start`` -> per content block
``content_block_start`` / ``content_block_delta``... / ``content_block_stop`` ->
``message_delta`` (stop reason, cumulative usage) -> ``message_stop``; ``ping``
anywhere; ``error`` mid-stream.

Stream -> body follows the SDK's ``accumulate_event``: blocks by index, text and
thinking deltas append, ``input_json_delta`` fragments concatenate and parse at
``content_block_stop``, ``signature_delta`` sets, ``message_delta`` overwrites
the usage fields it carries (they are totals, not increments).
Body -> stream follows the recipe checked against the SDK: ``message_start`` with
empty content, one start/delta/stop per block, ``message_delta``, ``message_stop``.

Both auth styles (``x-api-key`` and ``Authorization: Bearer``) are secrets the
redactor drops; ``anthropic-version`` and ``anthropic-beta`` are key headers.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from replaydeck.models import Tape
from replaydeck.providers.base import (
    Accumulator,
    LiveEvent,
    Provider,
    ResponseParser,
    StreamParser,
    Summary,
    ToolCall,
    error_of,
    load_json,
    parse_arguments,
    sse_frame,
)
from replaydeck.wire.http import is_event_stream

#: HTTP status of each error type (Anthropic's errors page), for a stream error
#: replayed as a whole body. 529 is what an ``overloaded_error`` is outside a stream.
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

TOOL_BLOCKS = ("tool_use", "server_tool_use")


class MessageAccumulator(Accumulator):
    def __init__(self) -> None:
        super().__init__()
        self.message: dict[str, Any] | None = None
        self.blocks: dict[int, dict[str, Any]] = {}
        self.json_parts: dict[int, list[str]] = {}

    def add(self, event: str | None, obj: Any) -> list[LiveEvent]:
        if not isinstance(obj, dict):
            return []
        kind = obj.get("type") or event
        out: list[LiveEvent] = []
        if kind == "message_start":
            self.message = copy.deepcopy(obj.get("message") or {})
        elif kind == "content_block_start":
            idx = int(obj.get("index", len(self.blocks)))
            block = copy.deepcopy(obj.get("content_block") or {})
            self.blocks[idx] = block
            if block.get("type") in TOOL_BLOCKS:
                out.append(LiveEvent("tool_call", name=block.get("name")))
        elif kind == "content_block_delta":
            out.extend(self._delta(int(obj.get("index", 0)), obj.get("delta") or {}))
        elif kind == "content_block_stop":
            idx = int(obj.get("index", 0))
            parts = self.json_parts.pop(idx, None)
            if parts is not None and idx in self.blocks:
                raw = "".join(parts)
                self.blocks[idx]["input"] = parse_arguments(raw) if raw else {}
        elif kind == "message_delta":
            msg = self.message if self.message is not None else {}
            self.message = msg
            delta = obj.get("delta") or {}
            for k in ("stop_reason", "stop_sequence", "stop_details"):
                if k in delta:
                    msg[k] = delta[k]
            usage = obj.get("usage") or {}
            total = msg.setdefault("usage", {})
            for k, v in usage.items():
                if v is not None:
                    total[k] = v
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            err = obj.get("error")
            self.error = err if isinstance(err, dict) else {"message": str(err)}
            out.append(LiveEvent("error", text=str(self.error.get("message", ""))))
        return out

    def _delta(self, idx: int, delta: dict[str, Any]) -> list[LiveEvent]:
        block = self.blocks.setdefault(idx, {"type": "text", "text": ""})
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text") or ""
            block["text"] = (block.get("text") or "") + text
            return [LiveEvent("text", text=text)] if text else []
        if kind == "input_json_delta":
            self.json_parts.setdefault(idx, []).append(delta.get("partial_json") or "")
        elif kind == "thinking_delta":
            block["thinking"] = (block.get("thinking") or "") + (delta.get("thinking") or "")
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature")
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))
        return []

    def body(self) -> dict[str, Any]:
        out = dict(self.message or {"type": "message", "role": "assistant"})
        blocks = dict(self.blocks)
        for idx, parts in self.json_parts.items():  # a stream cut before content_block_stop
            if idx in blocks:
                blocks[idx]["input"] = parse_arguments("".join(parts))
        out["content"] = [blocks[i] for i in sorted(blocks)]
        return out


def summarize_message(body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
    text: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    for block in body.get("content") or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text.append(str(block.get("text") or ""))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
        elif kind in TOOL_BLOCKS:
            calls.append(ToolCall(block.get("id"), str(block.get("name", "")),
                                  parse_arguments(block.get("input"))))
    return Summary(
        model=body.get("model"),
        text="".join(text),
        tool_calls=tuple(calls),
        stop_reason=body.get("stop_reason"),
        usage=body.get("usage"),
        error=error,
        extra={"thinking": "".join(thinking)} if thinking else {},
    )


class AnthropicMessages(Provider):
    name = "anthropic"
    title = "Anthropic Messages"

    def match(self, method: str, path: str) -> bool:
        # everything under /v1/messages (count_tokens, batches) gets Anthropic-shaped errors
        p = path.rstrip("/")
        return p.endswith("/v1/messages") or "/v1/messages/" in p

    def _is_create(self, path: str) -> bool:
        return path.rstrip("/").endswith("/messages")

    def request_stream(self, path: str, query: str, body: Any) -> bool | None:
        if not self._is_create(path) or not isinstance(body, dict):
            return None
        return bool(body.get("stream"))  # the API's default is a whole message

    def parser(self, status: int, content_type: str) -> ResponseParser:
        return StreamParser(self, status, content_type, MessageAccumulator())

    def summarize_body(self, status: int, content_type: str, body: bytes) -> Summary:
        data = load_json(body)
        if not isinstance(data, dict):
            return super().summarize_body(status, content_type, body)
        if status >= 400 or data.get("type") == "error":
            return Summary(error={"status": status, **error_of(data)})
        return summarize_message(data)

    def summarize_whole(self, body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
        return summarize_message(body, error)

    def stream_error_reply(self, acc: Accumulator) -> tuple[int, bytes] | None:
        assert acc.error is not None
        status = ERROR_STATUS.get(str(acc.error.get("type")), 500)
        return status, orjson.dumps({"type": "error", "error": acc.error})

    def to_stream(self, tape: Tape, request_body: Any) -> list[bytes] | None:
        if is_event_stream(tape.content_type) or tape.status >= 400:
            return None
        body = load_json(tape.body)
        if not isinstance(body, dict) or body.get("type") != "message":
            return None
        return message_to_events(body)

    def error_body(self, status: int, message: str, error_type: str) -> bytes:
        return orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})

    def stream_error_event(self, message: str, error_type: str) -> bytes | None:
        return sse_frame(
            {"type": "error", "error": {"type": error_type, "message": message}}, "error"
        )


def message_to_events(body: dict[str, Any]) -> list[bytes]:
    def ev(obj: dict[str, Any]) -> bytes:
        return sse_frame(obj, str(obj["type"]))

    usage = dict(body.get("usage") or {})
    start_usage = dict(usage, output_tokens=1)  # the API's placeholder; message_delta corrects it
    start = {k: v for k, v in body.items() if k not in ("content", "usage")}
    start.update(content=[], stop_reason=None, stop_sequence=None, usage=start_usage)
    out = [ev({"type": "message_start", "message": start})]
    for i, block in enumerate(body.get("content") or []):
        kind = block.get("type")
        if kind == "text":
            head: dict[str, Any] = {"type": "text", "text": ""}
            if block.get("citations") is not None:
                head["citations"] = []
            deltas = [{"type": "text_delta", "text": block.get("text", "")}]
            deltas += [{"type": "citations_delta", "citation": c}
                       for c in block.get("citations") or []]
        elif kind in TOOL_BLOCKS:
            head = dict(block, input={})
            deltas = [{"type": "input_json_delta",
                       "partial_json": orjson.dumps(block.get("input") or {}).decode()}]
        elif kind == "thinking":
            head = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": block.get("thinking", "")},
                      {"type": "signature_delta", "signature": block.get("signature", "")}]
        else:  # redacted thinking, server tool results: sent whole, no deltas
            head, deltas = block, []
        out.append(ev({"type": "content_block_start", "index": i, "content_block": head}))
        out.extend(ev({"type": "content_block_delta", "index": i, "delta": d}) for d in deltas)
        out.append(ev({"type": "content_block_stop", "index": i}))
    out.append(ev({
        "type": "message_delta",
        "delta": {"stop_reason": body.get("stop_reason"), "stop_sequence": body.get("stop_sequence")},
        "usage": {"output_tokens": usage.get("output_tokens", 0)},
    }))
    out.append(ev({"type": "message_stop"}))
    return out
