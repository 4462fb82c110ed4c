"""The real-client matrix: every SDK x {streamed, not} x {text, tool call}, plus the cross cases.

One fake upstream, one recording proxy (``auto``) and one replaying proxy
(``replay-only``, every upstream pointed at a closed port) serve the whole module;
they share one tapes directory. Each case asks the upstream directly, then through
the recording proxy (which calls the upstream once), then through the replaying
proxy (which must not): the SDK's parsed result is the same all three times.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from tests.fakes.providers import ProviderUpstream
from tests.providers.sdks import GOOGLE_KEY, SDKS, ask, base_url, openai_client
from tests.support import FAKE_KEYS, proxy, running


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def routes_to(url: str) -> dict[str, str]:
    return {"/anthropic": url, "/gemini": url, "/ollama": url}


@dataclass
class Env:
    fake: ProviderUpstream
    upstream: str
    record: str
    replay: str
    tapes: Path

    def tapes_json(self) -> list[dict[str, Any]]:
        found = [orjson.loads(p.read_bytes()) for p in sorted(self.tapes.glob("*.json"))]
        return [t for t in found if isinstance(t, dict) and "request" in t]

    def settle(self, prompt: str) -> None:
        """Wait for the recording of ``prompt`` to reach disk: the recorder writes the
        tape after the client has its answer, and the replaying proxy reads the disk."""
        deadline = time.monotonic() + 10
        while not any(prompt in orjson.dumps(t["request"]).decode() for t in self.tapes_json()):
            assert time.monotonic() < deadline, f"no tape recorded for {prompt!r}"
            time.sleep(0.01)

    def tape_for(self, prompt: str) -> dict[str, Any]:
        found = [t for t in self.tapes_json() if prompt in orjson.dumps(t["request"]).decode()]
        assert len(found) == 1, f"{len(found)} tapes for {prompt!r}"
        return found[0]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("matrix")
    fake = ProviderUpstream()
    dead = closed_port_url()
    with ExitStack() as stack:
        up = stack.enter_context(running(fake))
        rec = stack.enter_context(proxy(tmp, upstream=up.url, routes=routes_to(up.url)))
        rep = stack.enter_context(proxy(tmp, upstream=dead, routes=routes_to(dead),
                                        record="replay-only"))
        yield Env(fake, up.url, rec.url, rep.url, tmp / "tapes")
    for path in tmp.rglob("*.json"):
        text = path.read_text("utf-8")
        for key in FAKE_KEYS:
            assert key not in text, f"secret written to {path}"


def summary_matches(summary: dict[str, Any], result: Any) -> None:
    """The tape's summary says what the SDK saw."""
    assert summary["text"] == result.text
    assert [(c["name"], orjson.dumps(c["arguments"], option=orjson.OPT_SORT_KEYS).decode())
            for c in summary["tool_calls"]] == [
        (name, orjson.dumps(orjson.loads(args), option=orjson.OPT_SORT_KEYS).decode())
        for _, name, args in result.tool_calls]
    assert summary["stop_reason"] is not None
    assert summary["usage"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
@pytest.mark.parametrize("sdk", SDKS)
def test_record_then_replay_equals_direct(env: Env, sdk: str, tools: bool, stream: bool) -> None:
    prompt = f"matrix {sdk} tools={tools} stream={stream}"
    direct = ask(sdk, base_url(sdk, env.upstream, False), prompt, tools, stream)
    assert direct.text or direct.tool_calls
    assert bool(direct.tool_calls) == tools
    calls = len(env.fake.calls)
    recorded = ask(sdk, base_url(sdk, env.record, True), prompt, tools, stream)
    assert len(env.fake.calls) == calls + 1
    env.settle(prompt)
    replayed = ask(sdk, base_url(sdk, env.replay, True), prompt, tools, stream)
    assert len(env.fake.calls) == calls + 1
    assert recorded == direct
    assert replayed == direct
    tape = env.tape_for(prompt)
    assert tape["request"]["stream"] is stream
    summary_matches(tape["meta"]["summary"], direct)


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
@pytest.mark.parametrize("first", ["stream", "plain"], ids=["stream-then-plain", "plain-then-stream"])
@pytest.mark.parametrize("sdk", SDKS)
def test_cross_framing_replay(env: Env, sdk: str, tools: bool, first: str) -> None:
    """Recorded in one framing, replayed (replay-only) in the other: same parsed result."""
    prompt = f"cross {sdk} tools={tools} first={first}"
    recorded = ask(sdk, base_url(sdk, env.record, True), prompt, tools, first == "stream")
    env.settle(prompt)
    converted = ask(sdk, base_url(sdk, env.replay, True), prompt, tools, first != "stream")
    assert converted == recorded
    assert converted.text or converted.tool_calls


@pytest.mark.parametrize("encoding", ["base64", "float"])
def test_embeddings_record_and_replay(env: Env, encoding: str) -> None:
    def embed(root: str) -> tuple[list[list[float]], str]:
        c = openai_client(root, {})
        kw: dict[str, Any] = {"encoding_format": "float"} if encoding == "float" else {}
        r = c.embeddings.create(model="text-embedding-3-small", input="hi", **kw)
        return [list(d.embedding) for d in r.data], r.usage.model_dump_json()

    direct = embed(env.upstream)
    assert direct[0] == [[1.0, 2.0, 3.0]]
    assert embed(env.record) == direct
    env.settle(f'"encoding_format":"{encoding}"')
    assert embed(env.replay) == direct
    [tape] = [t for t in env.tapes_json() if t["meta"]["provider"] == "openai-embeddings"
              and t["request"]["body"].get("encoding_format") == encoding]
    assert tape["meta"]["summary"]["extra"] == {"count": 1, "encoding": encoding, "dimensions": 3}


def test_gemini_query_key_never_stored_and_shares_the_tape(env: Env) -> None:
    """``?key=`` reaches the upstream but not the tape, the key or the log; both URLs, one key."""
    import httpx

    body = {"contents": [{"role": "user", "parts": [{"text": "query key"}]}]}
    path = "/gemini/v1beta/models/gemini-2.5-flash"
    with httpx.Client() as h:
        r = h.post(f"{env.record}{path}:streamGenerateContent?alt=sse&key={GOOGLE_KEY}", json=body)
        assert r.status_code == 200 and r.headers["x-replaydeck-source"] == "upstream"
        assert env.fake.calls[-1]["query"] == f"alt=sse&key={GOOGLE_KEY}"
        env.settle("query key")
        plain = h.post(f"{env.replay}{path}:generateContent?key=another", json=body)
    assert plain.status_code == 200, plain.text
    assert plain.headers["x-replaydeck-source"] == "tape"
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()["candidates"][0]["content"]["parts"] == [{"text": "Hello there!"}]
    tape = env.tape_for("query key")
    assert "key=REDACTED" in tape["request"]["query"]
    assert tape["meta"]["model"] == "gemini-2.5-flash"


def test_openai_error_shapes_reach_the_sdk_from_a_miss(env: Env) -> None:
    c = openai_client(env.replay, {})
    with pytest.raises(openai.NotFoundError) as info:
        c.responses.create(model="gpt-4.1", input="never recorded")
    assert "replay-only" in str(info.value)
