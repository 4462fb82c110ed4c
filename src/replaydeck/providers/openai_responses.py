"""OpenAI Responses API (``POST /v1/responses``).

Stream framing: SSE with an ``event:`` line equal to the JSON ``type`` on every
event, a ``sequence_number`` counting from 0, and **no** ``[DONE]``: the stream
ends with ``response.completed``, ``response.incomplete`` or ``response.failed``
(or an ``error`` event). A stream that stops before one of those is truncated.

Stream -> body: the terminal event's ``response`` is the whole non-streamed body
(the SDK's ``get_final_response`` returns exactly that). Items are also folded
from ``output_item.added`` / text and argument deltas / ``output_item.done`` so
a summary exists for a stream cut short.
Body -> stream follows the recipe checked against the SDK: ``response.created``
and ``response.in_progress`` with an empty copy, each output item as added /
deltas / done, then the terminal event named by ``status``.

Key: ``previous_response_id`` and ``conversation`` name server-side state and
stay in the key; the recorded ids are stable, so a replayed chain still matches.
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

TERMINAL = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
    "cancelled": "response.failed",
}
TOOL_ITEMS = ("function_call", "custom_tool_call")


class ResponsesAccumulator(Accumulator):
    def __init__(self) -> None:
        super().__init__()
        self.response: dict[str, Any] | None = None
        self.final: dict[str, Any] | None = None
        self.items: dict[int, dict[str, Any]] = {}

    def add(self, event: str | None, obj: Any) -> list[LiveEvent]:
        if not isinstance(obj, dict):
            return []
        kind = str(obj.get("type") or event or "")
        out: list[LiveEvent] = []
        if kind in ("response.created", "response.in_progress", "response.queued"):
            self.response = copy.deepcopy(obj.get("response") or {})
        elif kind in TERMINAL.values():
            self.final = obj.get("response") or {}
            self.done = True
            if kind == "response.failed":
                err = self.final.get("error") or {"message": "response failed"}
                self.error = err if isinstance(err, dict) else {"message": str(err)}
                out.append(LiveEvent("error", text=str(self.error.get("message", ""))))
        elif kind == "error":
            self.error = {k: v for k, v in obj.items() if k not in ("type", "sequence_number")}
            out.append(LiveEvent("error", text=str(obj.get("message", ""))))
        elif kind in ("response.output_item.added", "response.output_item.done"):
            item = copy.deepcopy(obj.get("item") or {})
            self.items[int(obj.get("output_index", len(self.items)))] = item
            if kind.endswith("added") and item.get("type") in TOOL_ITEMS:
                out.append(LiveEvent("tool_call", name=item.get("name")))
        elif kind == "response.output_text.delta":
            text = str(obj.get("delta") or "")
            item = self.items.setdefault(int(obj.get("output_index", 0)),
                                         {"type": "message", "role": "assistant", "content": []})
            parts = item.setdefault("content", [])
            ci = int(obj.get("content_index", 0))
            while len(parts) <= ci:
                parts.append({"type": "output_text", "text": "", "annotations": []})
            parts[ci]["text"] = str(parts[ci].get("text") or "") + text
            if text:
                out.append(LiveEvent("text", text=text))
        elif kind == "response.function_call_arguments.delta":
            item = self.items.setdefault(int(obj.get("output_index", 0)),
                                         {"type": "function_call", "arguments": ""})
            item["arguments"] = str(item.get("arguments") or "") + str(obj.get("delta") or "")
        return out

    def body(self) -> dict[str, Any]:
        if self.final is not None:
            return self.final
        out = dict(self.response or {"object": "response"})
        out["output"] = [self.items[i] for i in sorted(self.items)]
        return out


def summarize_response(body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
    text: list[str] = []
    calls: list[ToolCall] = []
    for item in body.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "output_text":
                    text.append(str(part.get("text") or ""))
        elif item.get("type") in TOOL_ITEMS:
            raw = item.get("arguments", item.get("input"))
            calls.append(ToolCall(item.get("call_id") or item.get("id"),
                                  str(item.get("name", "")), parse_arguments(raw)))
    stop = body.get("status")
    details = body.get("incomplete_details")
    if isinstance(details, dict) and details.get("reason"):
        stop = f"{stop}:{details['reason']}"
    err = error or (body.get("error") if isinstance(body.get("error"), dict) else None)
    return Summary(model=body.get("model"), text="".join(text), tool_calls=tuple(calls),
                   stop_reason=stop, usage=body.get("usage"), error=err)


class OpenAIResponses(Provider):
    name = "openai-responses"
    title = "OpenAI Responses"

    def match(self, method: str, path: str) -> bool:
        # POST /v1/responses, and GET/DELETE /v1/responses/{id}[/input_items] (OpenAI errors)
        p = path.rstrip("/")
        return p.endswith("/responses") or "/responses/" in p

    def request_stream(self, path: str, query: str, body: Any) -> bool | None:
        if not path.rstrip("/").endswith("/responses") or not isinstance(body, dict):
            return None
        return bool(body.get("stream"))

    def parser(self, status: int, content_type: str) -> ResponseParser:
        return StreamParser(self, status, content_type, ResponsesAccumulator())

    def summarize_body(self, status: int, content_type: str, body: bytes) -> Summary:
        data = load_json(body)
        if not isinstance(data, dict):
            return super().summarize_body(status, content_type, body)
        if status >= 400:
            return Summary(error={"status": status, **error_of(data)})
        return summarize_response(data)

    def summarize_whole(self, body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
        return summarize_response(body, error)

    def stream_error_reply(self, acc: Accumulator) -> tuple[int, bytes] | None:
        assert isinstance(acc, ResponsesAccumulator) and acc.error is not None
        if acc.final is not None:
            return None  # response.failed / .incomplete: the whole body says it
        # an `error` event: the non-streamed API answers that with an HTTP error
        err = {"message": acc.error.get("message"), "type": "server_error",
               "param": acc.error.get("param"), "code": acc.error.get("code")}
        return 500, orjson.dumps({"error": err})

    def to_stream(self, tape: Tape, request_body: Any) -> list[bytes] | None:
        if is_event_stream(tape.content_type) or tape.status >= 400:
            return None
        body = load_json(tape.body)
        if not isinstance(body, dict) or body.get("object") != "response":
            return None
        return response_to_events(body)

    def stream_error_event(self, message: str, error_type: str) -> bytes | None:
        return sse_frame({"type": "error", "code": error_type, "message": message,
                          "param": None, "sequence_number": 0}, "error")


def response_to_events(body: dict[str, Any]) -> list[bytes]:
    out: list[bytes] = []

    def ev(obj: dict[str, Any]) -> None:
        obj["sequence_number"] = len(out)
        out.append(sse_frame(obj, str(obj["type"])))

    empty = dict(body, status="in_progress", output=[], usage=None)
    for kind in ("response.created", "response.in_progress"):
        ev({"type": kind, "response": empty})
    for oi, item in enumerate(body.get("output") or []):
        kind = item.get("type")
        iid = item.get("id")
        if kind == "message":
            ev({"type": "response.output_item.added", "output_index": oi,
                "item": dict(item, content=[], status="in_progress")})
            for ci, part in enumerate(item.get("content") or []):
                pos = {"item_id": iid, "output_index": oi, "content_index": ci}
                if part.get("type") == "output_text":
                    text = part.get("text", "")
                    ev({"type": "response.content_part.added", **pos,
                        "part": dict(part, text="", annotations=[])})
                    ev({"type": "response.output_text.delta", **pos, "delta": text,
                        "logprobs": []})
                    ev({"type": "response.output_text.done", **pos, "text": text,
                        "logprobs": []})
                else:
                    ev({"type": "response.content_part.added", **pos, "part": part})
                ev({"type": "response.content_part.done", **pos, "part": part})
        elif kind == "function_call":
            args = item.get("arguments", "")
            pos = {"item_id": iid, "output_index": oi}
            ev({"type": "response.output_item.added", "output_index": oi,
                "item": dict(item, arguments="", status="in_progress")})
            ev({"type": "response.function_call_arguments.delta", **pos, "delta": args})
            ev({"type": "response.function_call_arguments.done", **pos, "arguments": args,
                "name": item.get("name")})
        else:
            ev({"type": "response.output_item.added", "output_index": oi, "item": item})
        ev({"type": "response.output_item.done", "output_index": oi, "item": item})
    terminal = TERMINAL.get(str(body.get("status")), "response.completed")
    ev({"type": terminal, "response": body})
    return out
