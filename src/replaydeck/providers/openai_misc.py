"""The smaller OpenAI endpoints: embeddings, legacy completions, models.

* ``POST /v1/embeddings`` never streams. ``encoding_format`` stays in the key:
  openai-python asks for ``base64`` unless told otherwise and decodes the
  embedding as little-endian float32, so a float reply and a base64 reply are
  different bytes for different requests.
* ``POST /v1/completions`` (legacy) streams data-only SSE chunks of object
  ``text_completion`` ending with ``data: [DONE]`` (the same framing as Chat:
  no ``event:`` lines). Conversion both ways mirrors Chat: texts concatenate per
  choice, ``usage`` from the last chunk that has it; a usage chunk
  (``choices: []``) only when the request asked ``include_usage``.
* ``GET /v1/models`` and ``/v1/models/{id}``: plain JSON, summarised as the ids.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from replaydeck.models import Tape
from replaydeck.providers.base import (
    Accumulator,
    LiveEvent,
    Provider,
    ResponseParser,
    StreamParser,
    Summary,
    load_json,
    sse_frame,
)
from replaydeck.wire.http import is_event_stream


def _b64_floats(text: str) -> int | None:
    try:
        return len(base64.b64decode(text, validate=True)) // 4
    except (binascii.Error, ValueError):
        return None


def _openai_error(status: int, data: Any, body: bytes) -> Summary:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return Summary(error={"status": status, **data["error"]})
    return Summary(error={"status": status, "message": body[:500].decode("utf-8", "replace")})


class OpenAIEmbeddings(Provider):
    name = "openai-embeddings"
    title = "OpenAI embeddings"

    def match(self, method: str, path: str) -> bool:
        p = path.rstrip("/")
        return method == "POST" and p.endswith("/embeddings") and not p.startswith("/api/")

    def request_stream(self, path: str, query: str, body: Any) -> bool | None:
        return None  # one framing only

    def summarize_body(self, status: int, content_type: str, body: bytes) -> Summary:
        data = load_json(body)
        if status >= 400 or not isinstance(data, dict):
            return _openai_error(status, data, body)
        items = [d for d in data.get("data") or [] if isinstance(d, dict)]
        first = items[0].get("embedding") if items else None
        extra: dict[str, Any] = {"count": len(items)}
        if isinstance(first, list):
            extra.update(encoding="float", dimensions=len(first))
        elif isinstance(first, str):
            extra.update(encoding="base64", dimensions=_b64_floats(first))
        return Summary(model=data.get("model"), usage=data.get("usage"), extra=extra)


class CompletionsAccumulator(Accumulator):
    done_marker = True

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: dict[str, Any] | None = None
        self.choices: dict[int, dict[str, Any]] = {}
        self.usage: Any = None

    def add(self, event: str | None, obj: Any) -> list[LiveEvent]:
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            err = obj["error"]
            self.error = err if isinstance(err, dict) else {"message": str(err)}
            return [LiveEvent("error", text=str(self.error.get("message", "")))]
        if self.snapshot is None:
            self.snapshot = {k: v for k, v in obj.items() if k not in ("choices", "usage")}
        if obj.get("usage") is not None:
            self.usage = obj["usage"]
        out: list[LiveEvent] = []
        for choice in obj.get("choices") or []:
            idx = int(choice.get("index", 0))
            acc = self.choices.setdefault(
                idx, {"text": "", "index": idx, "logprobs": None, "finish_reason": None})
            text = choice.get("text") or ""
            acc["text"] += text
            if text:
                out.append(LiveEvent("text", text=text))
            if choice.get("finish_reason") is not None:
                acc["finish_reason"] = choice["finish_reason"]
            if choice.get("logprobs") is not None:
                acc["logprobs"] = choice["logprobs"]
        return out

    def body(self) -> dict[str, Any]:
        out = dict(self.snapshot or {"object": "text_completion"})
        out["choices"] = [self.choices[i] for i in sorted(self.choices)]
        out["usage"] = self.usage
        return out


def summarize_completion(body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
    choices = [c for c in body.get("choices") or [] if isinstance(c, dict)]
    stop = next((c.get("finish_reason") for c in choices if c.get("finish_reason")), None)
    return Summary(model=body.get("model"), text="".join(str(c.get("text") or "") for c in choices),
                   stop_reason=stop, usage=body.get("usage"), error=error)


class OpenAICompletions(Provider):
    name = "openai-completions"
    title = "OpenAI legacy completions"

    def match(self, method: str, path: str) -> bool:
        p = path.rstrip("/")
        return (method == "POST" and p.endswith("/completions")
                and not p.endswith("/chat/completions"))

    def request_stream(self, path: str, query: str, body: Any) -> bool | None:
        return bool(body.get("stream")) if isinstance(body, dict) else None

    def parser(self, status: int, content_type: str) -> ResponseParser:
        return StreamParser(self, status, content_type, CompletionsAccumulator())

    def summarize_body(self, status: int, content_type: str, body: bytes) -> Summary:
        data = load_json(body)
        if status >= 400 or not isinstance(data, dict):
            return _openai_error(status, data, body)
        return summarize_completion(data)

    def summarize_whole(self, body: dict[str, Any], error: dict[str, Any] | None = None) -> Summary:
        return summarize_completion(body, error)

    def to_stream(self, tape: Tape, request_body: Any) -> list[bytes] | None:
        if is_event_stream(tape.content_type) or tape.status >= 400:
            return None
        body = load_json(tape.body)
        if not isinstance(body, dict) or "choices" not in body:
            return None
        so = request_body.get("stream_options") if isinstance(request_body, dict) else None
        usage = isinstance(so, dict) and bool(so.get("include_usage"))
        base = {k: v for k, v in body.items() if k not in ("choices", "usage")}
        out = []
        for choice in body["choices"]:
            obj = dict(base, choices=[dict(choice)])
            if usage:
                obj["usage"] = None
            out.append(sse_frame(obj))
        if usage and body.get("usage") is not None:
            out.append(sse_frame(dict(base, choices=[], usage=body["usage"])))
        out.append(b"data: [DONE]\n\n")
        return out


class OpenAIModels(Provider):
    name = "openai-models"
    title = "OpenAI models"

    def match(self, method: str, path: str) -> bool:
        p = path.rstrip("/")
        return method == "GET" and (p.endswith("/models") or "/models/" in p)

    def summarize_body(self, status: int, content_type: str, body: bytes) -> Summary:
        data = load_json(body)
        if status >= 400 or not isinstance(data, dict):
            return _openai_error(status, data, body)
        found = data.get("data", data.get("models"))  # Gemini's GET /models says "models"
        items: list[Any] = found if isinstance(found, list) else [data]
        ids = [str(m.get("id")) for m in items if isinstance(m, dict) and m.get("id")]
        return Summary(extra={"models": ids})
