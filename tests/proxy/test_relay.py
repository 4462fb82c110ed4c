"""The plain relay (mode off: read upstream in the request's own task, no flight):
the same answers, errors, streaming and hang-up behaviour as the recorded path,
and the same record in the dashboard's history. (A client hanging up: test_proxying.)"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.dashboard.conftest import dash, wait_for
from tests.fakes.upstream import FakeUpstream
from tests.support import FAKE_KEYS, ThreadServer, proxy, tape_files

KEY = FAKE_KEYS[0]
CHAT = {"model": "m", "messages": [{"role": "user", "content": "a b c d e f g h i j"}]}


def sdk(url: str, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, **kw)  # type: ignore[arg-type]


def test_whole_and_streamed_answers_pass_through(tmp_path: Path, upstream: ThreadServer,
                                                 fake: FakeUpstream) -> None:
    with proxy(tmp_path, upstream=upstream.url, record="off") as px:
        raw = sdk(px.url).chat.completions.with_raw_response.create(**CHAT)  # type: ignore[call-overload]
        assert raw.headers["x-replaydeck-source"] == "passthrough"
        assert raw.parse().choices[0].message.content == "You said: a b c d e f g h i j"
        parts = [c.choices[0].delta.content or "" for c in sdk(px.url).chat.completions.create(
            stream=True, **CHAT) if c.choices]  # type: ignore[call-overload]
        assert "".join(parts) == "You said: a b c d e f g h i j"
        gz = sdk(px.url, default_headers={"x-fake-gzip": "1"}).chat.completions.create(**CHAT)  # type: ignore[call-overload]
        assert gz.choices[0].message.content == "You said: a b c d e f g h i j"
    assert len(fake.calls) == 3 and tape_files(tmp_path) == []


def test_chunks_reach_the_client_as_they_arrive(tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url, record="off") as px:
        t0 = time.perf_counter()
        arrivals = []
        with httpx.stream("POST", px.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                          headers={"x-fake-gap-ms": "80"}) as r:
            for _ in r.iter_raw():
                arrivals.append(time.perf_counter() - t0)
    assert arrivals[-1] > 0.7 and arrivals[0] < arrivals[-1] / 3 and len(arrivals) >= 6


def test_refused_and_silent_upstreams_answer_in_the_provider_format(
        tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream="http://127.0.0.1:9", record="off") as px:
        with pytest.raises(openai.InternalServerError) as info:
            sdk(px.url).chat.completions.create(**CHAT)  # type: ignore[call-overload]
    assert info.value.status_code == 502 and "127.0.0.1:9" in info.value.message
    assert info.value.body["type"] == "upstream_error"  # type: ignore[index]
    with proxy(tmp_path, upstream=upstream.url, record="off", read_timeout=0.3) as px:
        r = httpx.post(px.url + "/v1/chat/completions", json=CHAT,
                       headers={"x-fake-ttfb-ms": "1500"}, timeout=10)
    assert r.status_code == 504 and r.json()["error"]["type"] == "upstream_timeout"


def test_upstream_reset_mid_stream_is_an_error_in_the_sdk(tmp_path: Path,
                                                          upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url, record="off") as px:
        c = sdk(px.url, default_headers={"x-fake-fail": "mid-stream"})
        with pytest.raises(openai.APIError):
            for _ in c.chat.completions.create(stream=True, **CHAT):  # type: ignore[call-overload]
                pass


def test_relayed_requests_are_in_the_history(tmp_path: Path, upstream: ThreadServer) -> None:
    with dash(tmp_path, upstream.url, record="off") as px, httpx.Client(base_url=px.url) as c:
        sdk(px.url).chat.completions.create(**CHAT)  # type: ignore[call-overload]
        list(sdk(px.url).chat.completions.create(stream=True, **CHAT))  # type: ignore[call-overload]
        rows = wait_for(lambda: len(c.get("/__replaydeck/api/requests").json()["items"]) == 2
                        and c.get("/__replaydeck/api/requests").json()["items"])
        assert {r["source"] for r in rows} == {"passthrough"}
        assert {r["status"] for r in rows} == {200}
        for row in rows:
            detail = c.get(f"/__replaydeck/api/requests/{row['id']}").json()
            assert detail["summary"]["text"] == "You said: a b c d e f g h i j"
