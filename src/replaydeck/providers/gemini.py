"""Google Gemini (Developer API): ``models/{m}:generateContent`` and ``:streamGenerateContent``.

The URL decides the framing: ``:streamGenerateContent?alt=sse`` streams SSE where
each event is one whole ``GenerateContentResponse`` as ``data: <json>`` with CRLF
line ends; ``:generateContent`` answers one JSON object. Both URLs map to one key
(``key_path`` folds the method, ``key_query`` drops ``alt``), so one tape serves
both. The API key (``x-goog-api-key`` header or ``?key=``) is a secret: the core
drops ``key`` from the tape key and masks it in tapes and logs.

google-genai parses a stream line by line: every event must be exactly
``data: `` + one JSON object + a blank line (a comment or ``event:`` line makes it
raise), so a converted stream is one such event. There is no end marker: a whole
stream is one whose last chunk carries a ``finishReason`` (or a blocked prompt).

Stream -> body: parts concatenate per candidate ``index`` (adjacent plain text
parts with the same ``thought`` flag merge), and ``finishReason``, ratings,
``usageMetadata``, ``modelVersion``, ``responseId`` come from the last chunk
that has them. Without ``alt=sse`` the API streams a JSON array; that body is
read as the list of its chunks and replayed as recorded (no conversion: the Python
SDK always asks for ``alt=sse``).
"""

from __future__ import annotations

import re
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
    sse_frame,
)
from replaydeck.wire.http import is_event_stream

#: ``/{version}/models/{model}:{method}`` and the tuned-model form ``tunedModels/...``
_PATH = re.compile(r"/(?:models|tunedModels)/([^/:]+):([A-Za-z]+)$")
_BETA_MODELS = re.compile(r"/v1(?:beta|alpha)\d*/(?:models|tunedModels)(?:/[^/:]+)?/?$")
STREAM_METHOD = "streamGenerateContent"
PLAIN_METHOD = "generateContent"

#: google.rpc status names by HTTP status, for errors we make ourselves
GRPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_LAST_WINS = ("finishReason", "finishMessage", "safetyRatings", "citationMetadata",
              "groundingMetadata", "avgLogprobs", "logprobsResult", "urlContextMetadata")
_TOP_LAST_WINS = ("usageMetadata", "modelVersion", "responseId", "promptFeedback", "createTime")


def _plain_text(part: dict[str, Any]) -> bool:
    return "text" in part and set(part) <= {"text", "thought"}


class GeminiAccumulator(Accumulator):
    def __init__(self) -> None:
        super().__init__()
        self.top: dict[str, Any] = {}
        self.candidates: dict[int, dict[str, Any]] = {}

    def add(self, event: str | None, obj: Any) -> list[LiveEvent]:
        if isinstance(obj, list):  # a non-SSE stream: a JSON array of chunks
            return [e for o in obj for e in self.add(event, o)]
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            err = obj["error"]
            self.error = err if isinstance(err, dict) else {"message": str(err)}
            return [LiveEvent("error", text=str(self.error.get("message", "")))]
        out: list[LiveEvent] = []
        for k in _TOP_LAST_WINS:
            if obj.get(k) is not None:
                self.top[k] = obj[k]
        feedback = obj.get("promptFeedback")
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            self.done = True
        for cand in obj.get("candidates") or []:
            idx = int(cand.get("index", 0))
            acc = self.candidates.setdefault(idx, {"content": {"parts": [], "role": "model"}})
            content = cand.get("content") or {}
            if content.get("role"):
                acc["content"]["role"] = content["role"]
            parts: list[dict[str, Any]] = acc["content"]["parts"]
            for part in content.get("parts") or []:
                if not isinstance(part, dict):
                    continue
                if (parts and _plain_text(part) and _plain_text(parts[-1])
                        and bool(part.get("thought")) == bool(parts[-1].get("thought"))):
                    parts[-1] = dict(parts[-1], text=parts[-1]["text"] + part["text"])
                else:
                    parts.append(dict(part))
                if "text" in part and not part.get("thought") and part["text"]:
                    out.append(LiveEvent("text", text=str(part["text"])))
                if isinstance(part.get("functionCall"), dict):
                    out.append(LiveEvent("tool_call", name=part["functionCall"].get("name")))
            for k in _LAST_WINS:
                if cand.get(k) is not None:
                    acc[k] = cand[k]
            if cand.get("finishReason"):
                self.done = True
        return out

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.candidates:
            out["candidates"] = [dict(self.candidates[i], index=i) for i in sorted(self.candidates)]
        out.update(self.top)
        return out


def summarize_generate(body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
    text: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    stop = None
    for cand in body.get("candidates") or []:
        for part in (cand.get("content") or {}).get("parts") or []:
            if not isinstance(part, dict):
                continue
            if "text" in part:
                (thoughts if part.get("thought") else text).append(str(part["text"]))
            fc = part.get("functionCall")
            if isinstance(fc, dict):
                calls.append(ToolCall(fc.get("id"), str(fc.get("name", "")), fc.get("args", {})))
        stop = stop or cand.get("finishReason")
    if stop is None:
        feedback = body.get("promptFeedback")
        if isinstance(feedback, dict):
            stop = feedback.get("blockReason")
    return Summary(model=body.get("modelVersion"), text="".join(text), tool_calls=tuple(calls),
                   stop_reason=stop, usage=body.get("usageMetadata"), error=error,
                   extra={"thinking": "".join(thoughts)} if thoughts else {})


def _error_of(data: Any) -> dict[str, Any] | None:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return dict(data["error"])
    return None


class Gemini(Provider):
    name = "gemini"
    title = "Google Gemini"

    def match(self, method: str, path: str) -> bool:
        # also the model listing under Google's beta versions (OpenAI has no v1beta), so a
        # miss there answers in Google's error shape; plain /v1/models stays OpenAI's
        return _PATH.search(path) is not None or _BETA_MODELS.match(path) is not None

    def key_path(self, path: str) -> str:
        if path.endswith(":" + STREAM_METHOD):
            return path[: -len(STREAM_METHOD)] + PLAIN_METHOD
        return path

    def key_query(self, pairs: list[list[str]]) -> list[list[str]]:
        # alt=sse only picks the framing; another alt (a JSON-array stream) is kept
        return [p for p in pairs if p != ["alt", "sse"]]

    def request_stream(self, path: str, query: str, body: Any) -> bool | None:
        m = _PATH.search(path)
        if m is None or m.group(2) not in (STREAM_METHOD, PLAIN_METHOD):
            return None
        if m.group(2) == PLAIN_METHOD:
            return False
        # without alt=sse the API streams one JSON array: replay that as recorded
        return True if "alt=sse" in query.split("&") else None

    def model(self, path: str, body: Any) -> str | None:
        m = _PATH.search(path)
        return m.group(1) if m else None

    def parser(self, status: int, content_type: str) -> ResponseParser:
        return StreamParser(self, status, content_type, GeminiAccumulator())

    def summarize_body(self, status: int, content_type: str, body: bytes) -> Summary:
        data = load_json(body)
        err = _error_of(data)
        if status >= 400 or err is not None:
            if err is None:
                return super().summarize_body(status, content_type, body)
            # Google's own "status" is the gRPC name; the summary's "status" is HTTP
            return Summary(error={**err, "grpc_status": err.get("status"), "status": status})
        if isinstance(data, list):  # the JSON-array stream
            acc = GeminiAccumulator()
            acc.add(None, data)
            return summarize_generate(acc.body(), acc.error)
        return summarize_generate(data) if isinstance(data, dict) else Summary()

    def summarize_whole(self, body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
        return summarize_generate(body, error)

    def stream_error_reply(self, acc: Accumulator) -> tuple[int, bytes] | None:
        assert acc.error is not None
        code = acc.error.get("code")
        return (code if isinstance(code, int) and code >= 400 else 500,
                orjson.dumps({"error": acc.error}))

    def to_stream(self, tape: Tape, request_body: Any) -> list[bytes] | None:
        if is_event_stream(tape.content_type) or tape.status >= 400:
            return None
        body = load_json(tape.body)
        chunks = body if isinstance(body, list) else [body]
        if not chunks or not all(isinstance(c, dict) and "error" not in c for c in chunks):
            return None
        return [sse_frame(c, newline=b"\r\n") for c in chunks]

    def error_body(self, status: int, message: str, error_type: str) -> bytes:
        return orjson.dumps({"error": {
            "code": status, "message": message, "status": GRPC_STATUS.get(status, "UNKNOWN"),
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                         "reason": error_type, "domain": "replaydeck"}],
        }})

    def stream_error_event(self, message: str, error_type: str) -> bytes | None:
        return sse_frame(orjson.loads(self.error_body(500, message, error_type)), newline=b"\r\n")
