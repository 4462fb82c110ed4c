"""The request shapes `tapes why` and `tapes import --request` accept."""

from __future__ import annotations

import orjson

from replaydeck.tapetools.requests import spec_from_history, spec_from_json


def test_bare_body_is_a_chat_completion() -> None:
    spec = spec_from_json({"model": "m", "messages": []})
    assert (spec.method, spec.raw_path) == ("POST", "/v1/chat/completions")
    assert orjson.loads(spec.body) == {"model": "m", "messages": []}


def test_request_object_with_url_and_text_body() -> None:
    spec = spec_from_json({"method": "put", "url": "http://h/ollama/api/x?a=1",
                           "headers": {"X-K": "v"}, "body": "raw text"})
    assert (spec.method, spec.raw_path, spec.query) == ("PUT", "/ollama/api/x", "a=1")
    assert spec.headers == (("x-k", "v"),) and spec.body == b"raw text"


def test_a_tape_gives_its_request() -> None:
    tape = {"version": 1, "meta": {"hash": "k"},
            "request": {"method": "POST", "route": "/anthropic", "path": "/v1/messages",
                        "query": "", "headers": {}, "body": {"model": "c"}},
            "response": {"status": 200, "headers": {}, "chunks": []}}
    spec = spec_from_json(tape)
    assert spec.raw_path == "/anthropic/v1/messages" and orjson.loads(spec.body) == {"model": "c"}


def test_history_entry_drops_masked_headers() -> None:
    spec = spec_from_history({"method": "POST", "route": "", "path": "/v1/chat/completions",
                              "request_headers": {"authorization": "REDACTED", "openai-beta": "x"},
                              "request_body": {"$text": "hi"}})
    assert spec.headers == (("openai-beta", "x"),) and spec.body == b"hi"
