"""Through a real proxy: recorded errors replay exactly, broken streams are not recorded,
misses reach each SDK as its own not-found error, and each provider's key rules hold.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ollama
import openai
import orjson
import pytest

from tests.fakes.providers import ProviderUpstream
from tests.providers.sdks import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    SDKS,
    anthropic_client,
    ask,
    base_url,
)
from tests.providers.test_sdk_matrix import closed_port_url, routes_to
from tests.support import FAKE_KEYS, proxy, running


@dataclass
class Env:
    fake: ProviderUpstream
    upstream: str
    strict: str  # records only clean successes (the default)
    errors: str  # --record-errors
    replay: str  # replay-only over the --record-errors tapes
    strict_tapes: Path
    error_tapes: Path

    def wait_tapes(self, where: Path, n: int) -> None:
        deadline = time.monotonic() + 10
        while len(list(where.glob("*.json"))) < n:
            assert time.monotonic() < deadline, "tape not written"
            time.sleep(0.01)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    a, b = tmp_path_factory.mktemp("strict"), tmp_path_factory.mktemp("errors")
    fake = ProviderUpstream()
    dead = closed_port_url()
    with ExitStack() as stack:
        up = stack.enter_context(running(fake))
        strict = stack.enter_context(proxy(a, upstream=up.url, routes=routes_to(up.url)))
        errs = stack.enter_context(proxy(b, upstream=up.url, routes=routes_to(up.url),
                                         record_errors=True))
        rep = stack.enter_context(proxy(b, upstream=dead, routes=routes_to(dead),
                                        record="replay-only"))
        yield Env(fake, up.url, strict.url, errs.url, rep.url, a / "tapes", b / "tapes")
    for path in [*a.rglob("*.json"), *b.rglob("*.json")]:
        text = path.read_text("utf-8")
        for key in FAKE_KEYS:
            assert key not in text, f"secret written to {path}"


def failure(fn: Any) -> tuple[str, str, int | None]:
    """(exception class, message, HTTP status) of what an SDK call raised."""
    try:
        fn()
    except Exception as exc:  # the point is to compare whatever the SDK raised
        status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
        return type(exc).__name__, str(exc), status
    raise AssertionError("the SDK call did not fail")


# (sdk, streamed?, steering header, exception class the SDK raises)
ERROR_CASES = [
    ("openai-chat", False, {"x-fake-status": "400"}, "BadRequestError"),
    ("openai-responses", False, {"x-fake-status": "400"}, "BadRequestError"),
    ("anthropic", False, {"x-fake-status": "529"}, "OverloadedError"),
    ("gemini", False, {"x-fake-status": "400"}, "ClientError"),
    ("ollama", False, {"x-fake-status": "404"}, "ResponseError"),
    ("openai-chat", True, {"x-fake-fail": "stream-error"}, "APIError"),
    ("anthropic", True, {"x-fake-fail": "stream-error"}, "APIStatusError"),
    ("gemini", True, {"x-fake-fail": "stream-error"}, "ServerError"),
    ("ollama", True, {"x-fake-fail": "stream-error"}, "ResponseError"),
]


@pytest.mark.parametrize(("sdk", "stream", "headers", "raised"), ERROR_CASES,
                         ids=lambda v: str(v))
def test_recorded_errors_replay_exactly(env: Env, sdk: str, stream: bool,
                                        headers: dict[str, str], raised: str) -> None:
    prompt = f"error {sdk} {stream}"
    before = len(list(env.error_tapes.glob("*.json")))

    def call(root: str) -> Any:
        return lambda: ask(sdk, base_url(sdk, root, True), prompt, False, stream, headers)

    recorded = failure(call(env.errors))
    assert recorded[0] == raised
    env.wait_tapes(env.error_tapes, before + 1)
    replayed = failure(call(env.replay))
    assert replayed == recorded
    tape = next(t for t in (orjson.loads(p.read_bytes()) for p in env.error_tapes.glob("*.json"))
                if prompt in orjson.dumps(t.get("request")).decode())
    assert tape["meta"]["summary"]["error"], "the error is parsed into the summary"


def test_responses_stream_error_event_replays_byte_for_byte(env: Env) -> None:
    body = {"model": "gpt-4.1", "input": "stream error bytes", "stream": True}
    hdrs = {"authorization": f"Bearer {OPENAI_KEY}", "x-fake-fail": "stream-error"}
    before = len(list(env.error_tapes.glob("*.json")))
    with httpx.Client() as h:
        first = h.post(env.errors + "/v1/responses", json=body, headers=hdrs)
        env.wait_tapes(env.error_tapes, before + 1)
        again = h.post(env.replay + "/v1/responses", json=body, headers=hdrs)
    assert first.content == again.content and b"event: error" in again.content
    assert again.headers["x-replaydeck-source"] == "tape"


@pytest.mark.parametrize("sdk", SDKS)
@pytest.mark.parametrize("fail", ["stream-error", "truncate", "none"])
def test_broken_or_failed_streams_are_not_recorded_by_default(env: Env, sdk: str,
                                                              fail: str) -> None:
    """A clean stream ("none", the control) is recorded; a truncated one or one that
    carried an error event is not (unless --record-errors)."""
    prompt = f"not recorded {sdk} {fail}"
    before = len(env.fake.calls)
    try:
        ask(sdk, base_url(sdk, env.strict, True), prompt, False, True, {"x-fake-fail": fail})
    except Exception:  # whether the SDK raises is not the point here
        assert fail != "none"
    assert len(env.fake.calls) == before + 1

    def recorded() -> bool:
        tapes = env.strict_tapes.glob("*.json") if env.strict_tapes.exists() else []
        return any(prompt in p.read_text() for p in tapes)

    if fail == "none":
        deadline = time.monotonic() + 10
        while not recorded():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    else:
        time.sleep(0.1)  # the recorder would have written by now
        assert not recorded()


def test_misses_reach_each_sdk_as_its_not_found_error(env: Env) -> None:
    def miss(sdk: str) -> Any:
        return failure(lambda: ask(sdk, base_url(sdk, env.replay, True), "never", False, False))

    assert miss("openai-chat")[0] == "NotFoundError"
    assert miss("openai-responses")[0] == "NotFoundError"
    name, message, status = miss("anthropic")
    assert (name, status) == ("NotFoundError", 404) and "replay-only" in message
    name, message, status = miss("gemini")
    assert (name, status) == ("ClientError", 404) and "replay-only" in message
    name, message, status = miss("ollama")
    assert (name, status) == ("ResponseError", 404) and "replay-only" in message


# ------------------------------------------------------------------ keys


def test_ollama_missing_stream_means_streamed_and_replays_both_ways(env: Env) -> None:
    body: dict[str, Any] = {"model": "gemma4", "messages": [{"role": "user", "content": "dflt"}]}
    before = len(list(env.error_tapes.glob("*.json")))
    with httpx.Client() as h:
        first = h.post(env.errors + "/ollama/api/chat", json=body)
        assert first.headers["content-type"].startswith("application/x-ndjson")
        env.wait_tapes(env.error_tapes, before + 1)
        again = h.post(env.replay + "/ollama/api/chat", json=dict(body, tools=[]))
        plain = h.post(env.replay + "/ollama/api/chat", json=dict(body, stream=False))
    assert again.content == first.content  # tools: [] (ollama-python's default) shares the key
    assert plain.headers["content-type"] == "application/json"
    reply = plain.json()
    assert reply["message"]["content"] == "Hello!" and reply["done"] is True
    # ollama-python reads the replayed stream line by line
    c = ollama.Client(host=env.replay + "/ollama")
    parts = [ch.message.content for ch in c.chat(model="gemma4", messages=body["messages"],
                                                 stream=True)]
    assert "".join(parts) == "Hello!"


def test_server_side_references_stay_in_the_key(env: Env) -> None:
    c = openai.OpenAI(base_url=env.errors + "/v1", api_key=OPENAI_KEY, max_retries=0)
    before = len(list(env.error_tapes.glob("*.json")))
    c.responses.create(model="gpt-4.1", input="chain", previous_response_id="resp_1",
                       metadata={"run": "1"}, store=True)
    env.wait_tapes(env.error_tapes, before + 1)
    r = openai.OpenAI(base_url=env.replay + "/v1", api_key=OPENAI_KEY, max_retries=0)
    # bookkeeping fields are volatile: the same chain replays
    r.responses.create(model="gpt-4.1", input="chain", previous_response_id="resp_1",
                       metadata={"run": "2"}, store=False)
    with pytest.raises(openai.NotFoundError) as info:
        r.responses.create(model="gpt-4.1", input="chain", previous_response_id="resp_2")
    assert "previous_response_id" in str(info.value)
    with pytest.raises(openai.NotFoundError):
        r.responses.create(model="gpt-4.1", input="chain", conversation="conv_1")


def test_anthropic_version_is_key_material_and_both_auth_styles_stay_off_tape(env: Env) -> None:
    prompt = "versioned"
    before = len(list(env.error_tapes.glob("*.json")))
    ask("anthropic", env.errors + "/anthropic", prompt, False, False)
    env.wait_tapes(env.error_tapes, before + 1)
    # the same request with x-api-key instead of a bearer token replays the tape
    with httpx.Client() as h:
        body = {"model": "claude-haiku-4-5", "max_tokens": 256,
                "messages": [{"role": "user", "content": prompt}]}
        version = anthropic_client("http://127.0.0.1:1", {}).default_headers["anthropic-version"]
        hdrs = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": str(version)}
        hit = h.post(env.replay + "/anthropic/v1/messages", json=body, headers=hdrs)
        assert hit.status_code == 200, hit.text
        other = h.post(env.replay + "/anthropic/v1/messages", json=body,
                       headers=dict(hdrs, **{"anthropic-version": "2023-06-01"}))
    assert other.status_code == 404 and other.json()["type"] == "error"
    assert "anthropic-version" in other.json()["error"]["message"]


@pytest.mark.parametrize(("sdk", "raised"), [
    ("anthropic", "APIStatusError"), ("ollama", "ResponseError"), ("gemini", "ServerError"),
    ("openai-chat", "APIError"), ("openai-responses", None)])
@pytest.mark.parametrize("where", ["drop", "drop-mid"])
def test_upstream_dropping_mid_stream(env: Env, sdk: str, raised: str | None, where: str) -> None:
    """Dropped between two events, the client gets its provider's in-stream error (an SSE
    event, or an NDJSON line for Ollama); dropped inside an event, a broken read, never a
    corrupted event. Nothing is recorded."""
    prompt = f"dropped {sdk} {where}"
    name, message, _ = failure(lambda: ask(sdk, base_url(sdk, env.strict, True), prompt, False,
                                           True, {"x-fake-fail": where}))
    if where == "drop" and raised is not None:
        assert name == raised and "broke the connection" in message
    elif where == "drop":  # a Responses `error` event ends the stream without raising
        assert name == "AssertionError" and "response.completed" in message
    else:
        assert name in ("RemoteProtocolError", "APIConnectionError", "ReadError"), (name, message)
    time.sleep(0.1)
    tapes = env.strict_tapes.glob("*.json") if env.strict_tapes.exists() else []
    assert not any(prompt in p.read_text() for p in tapes)
