"""Ollama's native API (``/api/chat``, ``/api/generate``, ``/api/embed`` and the rest of ``/api/``).

Rule: ``/api/chat`` and ``/api/generate`` stream unless the body says
``"stream": false``; a missing ``stream`` means true (the opposite of OpenAI).
Streams are NDJSON (``application/x-ndjson``): one JSON object per line and no
blank lines (ollama-python ``json.loads`` every line, so a blank one raises). The
last object has ``"done": true``, ``done_reason`` and the metrics; a stream
without it is truncated. An error, before or inside a stream, is ``{"error": "..."}``.

Stream -> body: message ``content`` and ``thinking`` (``response`` for
generate) concatenate, tool calls (always whole objects) collect, and the rest
comes from the ``done`` line. Body -> stream: one line with the whole message,
then the ``done`` line with an empty message and the metrics.

Key: ollama-python always sends ``"tools": []``; an empty list is dropped so a
request without tools from another client shares the key.
"""

from __future__ import annotations

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
    load_json,
    parse_arguments,
)
from replaydeck.wire.http import is_ndjson

#: endpoints that stream by default (pull/push/create stream progress the same way)
STREAMING = ("/api/chat", "/api/generate", "/api/pull", "/api/push", "/api/create")
#: every native endpoint (ollama/ollama server/routes.go), so each gets Ollama-shaped errors
ENDPOINTS = frozenset({"chat", "generate", "embed", "embeddings", "tags", "show", "ps", "pull",
                       "push", "create", "copy", "delete", "version", "blobs"})
_USAGE = ("prompt_eval_count", "eval_count", "total_duration", "load_duration",
          "prompt_eval_duration", "eval_duration")


class OllamaAccumulator(Accumulator):
    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, Any] | None = None
        self.last: dict[str, Any] = {}
        self.content: list[str] = []
        self.thinking: list[str] = []
        self.response: list[str] = []
        self.tool_calls: list[Any] = []
        self.role = "assistant"
        self.chat = False

    def add(self, event: str | None, obj: Any) -> list[LiveEvent]:
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            self.error = {"message": str(obj["error"])}
            return [LiveEvent("error", text=self.error["message"])]
        out: list[LiveEvent] = []
        if self.first is None:
            self.first = obj
        self.last = obj
        msg = obj.get("message")
        if isinstance(msg, dict):
            self.chat = True
            self.role = msg.get("role") or self.role
            if msg.get("content"):
                self.content.append(str(msg["content"]))
                out.append(LiveEvent("text", text=str(msg["content"])))
            if msg.get("thinking"):
                self.thinking.append(str(msg["thinking"]))
            for call in msg.get("tool_calls") or []:
                self.tool_calls.append(call)
                out.append(LiveEvent("tool_call", name=(call.get("function") or {}).get("name")))
        if obj.get("response"):
            self.response.append(str(obj["response"]))
            out.append(LiveEvent("text", text=str(obj["response"])))
        if obj.get("thinking") and not isinstance(msg, dict):
            self.thinking.append(str(obj["thinking"]))
        if not isinstance(msg, dict):
            for call in obj.get("tool_calls") or []:
                self.tool_calls.append(call)
        # chat/generate end with "done": true; pull/push/create progress ends "success"
        if obj.get("done") is True or obj.get("status") == "success":
            self.done = True
        return out

    def body(self) -> dict[str, Any]:
        out = dict(self.last)
        if self.chat:
            msg: dict[str, Any] = {"role": self.role, "content": "".join(self.content)}
            if self.thinking:
                msg["thinking"] = "".join(self.thinking)
            if self.tool_calls:
                msg["tool_calls"] = self.tool_calls
            out["message"] = msg
        else:
            out["response"] = "".join(self.response)
            if self.thinking:
                out["thinking"] = "".join(self.thinking)
            if self.tool_calls:
                out["tool_calls"] = self.tool_calls
        return out


def summarize_reply(body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
    msg = body.get("message") if isinstance(body.get("message"), dict) else {}
    assert isinstance(msg, dict)
    text = msg.get("content") if msg else body.get("response")
    calls = []
    for call in msg.get("tool_calls") or body.get("tool_calls") or []:
        fn = call.get("function") or {}
        calls.append(ToolCall(call.get("id"), str(fn.get("name", "")),
                              parse_arguments(fn.get("arguments"))))
    usage = {k: body[k] for k in _USAGE if k in body} or None
    thinking = msg.get("thinking") or body.get("thinking")
    extra: dict[str, Any] = {"thinking": thinking} if thinking else {}
    if "embeddings" in body:
        extra["embeddings"] = len(body["embeddings"] or [])
    return Summary(model=body.get("model"), text=str(text or ""), tool_calls=tuple(calls),
                   stop_reason=body.get("done_reason"), usage=usage, error=error, extra=extra)


class Ollama(Provider):
    name = "ollama"
    title = "Ollama native"
    stream_content_type = "application/x-ndjson"

    def match(self, method: str, path: str) -> bool:
        parts = path.strip("/").split("/")
        return len(parts) >= 2 and parts[0] == "api" and parts[1] in ENDPOINTS

    def request_stream(self, path: str, query: str, body: Any) -> bool | None:
        if path.rstrip("/") not in STREAMING:
            return None
        if not isinstance(body, dict):
            return True
        stream = body.get("stream", True)
        return stream if isinstance(stream, bool) else True

    def key_body(self, body: Any) -> Any:
        if isinstance(body, dict) and body.get("tools") == []:
            body = {k: v for k, v in body.items() if k != "tools"}
        return body

    def parser(self, status: int, content_type: str) -> ResponseParser:
        return StreamParser(self, status, content_type, OllamaAccumulator())

    def summarize_body(self, status: int, content_type: str, body: bytes) -> Summary:
        data = load_json(body)
        if not isinstance(data, dict):
            return super().summarize_body(status, content_type, body)
        if status >= 400 or "error" in data:
            return Summary(error={"status": status, "message": str(data.get("error"))})
        return summarize_reply(data)

    def summarize_whole(self, body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
        return summarize_reply(body, error)

    def stream_error_reply(self, acc: Accumulator) -> tuple[int, bytes] | None:
        assert acc.error is not None
        return 500, orjson.dumps({"error": acc.error["message"]})

    def to_stream(self, tape: Tape, request_body: Any) -> list[bytes] | None:
        if is_ndjson(tape.content_type) or tape.status >= 400:
            return None
        body = load_json(tape.body)
        if not isinstance(body, dict) or "error" in body or body.get("done") is not True:
            return None
        return [orjson.dumps(line) + b"\n" for line in reply_to_lines(body)]

    def error_body(self, status: int, message: str, error_type: str) -> bytes:
        return orjson.dumps({"error": message})

    def stream_error_event(self, message: str, error_type: str) -> bytes | None:
        return orjson.dumps({"error": message}) + b"\n"


def reply_to_lines(body: dict[str, Any]) -> list[dict[str, Any]]:
    head: dict[str, Any] = {k: body[k] for k in ("model", "created_at") if k in body}
    if isinstance(body.get("message"), dict):
        msg = body["message"]
        first = dict(head, message=msg, done=False)
        last = dict(body, message={"role": msg.get("role", "assistant"), "content": ""})
    else:
        first = dict(head, response=body.get("response", ""), done=False)
        for k in ("thinking", "tool_calls"):
            if k in body:
                first[k] = body[k]
        last = {k: v for k, v in body.items() if k not in ("thinking", "tool_calls")}
        last["response"] = ""
    return [first, last]
