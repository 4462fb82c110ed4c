"""Edges: usage chunks only when asked, joiners outlive the first client, Host on proxied paths,
secrets split across chunks."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import httpx
import openai

from tests.fakes.upstream import FakeUpstream
from tests.support import FAKE_KEYS, ThreadServer, proxy, settle, tape_files

KEY = FAKE_KEYS[0]


def test_recorded_usage_chunk_not_sent_to_a_client_that_did_not_ask(tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        c = openai.OpenAI(base_url=px.url + "/v1", api_key=KEY, max_retries=0)
        msgs = [{"role": "user", "content": "usage please"}]
        first = list(c.chat.completions.create(model="m", messages=msgs, stream=True,  # type: ignore[arg-type]
                                               stream_options={"include_usage": True}))
        assert first[-1].choices == [] and first[-1].usage is not None
        settle(px)
        # replayed without include_usage: every chunk has a choice (user code reads choices[0])
        plain = list(c.chat.completions.create(model="m", messages=msgs, stream=True))  # type: ignore[arg-type]
        assert plain and all(ch.choices for ch in plain)
        assert "".join(ch.choices[0].delta.content or "" for ch in plain) == "You said: usage please"
        again = list(c.chat.completions.create(model="m", messages=msgs, stream=True,  # type: ignore[arg-type]
                                               stream_options={"include_usage": True}))
        assert again[-1].usage is not None


def test_joiner_keeps_the_upstream_call_when_the_first_client_leaves(
    tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream
) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "slow one"}]}
    hdr = {"x-fake-ttfb-ms": "800"}
    with proxy(tmp_path, upstream=upstream.url) as px:
        def impatient() -> None:
            try:
                httpx.post(px.url + "/v1/chat/completions", json=body, headers=hdr, timeout=0.3)
            except httpx.TimeoutException:
                pass

        t = threading.Thread(target=impatient)
        t.start()
        time.sleep(0.1)
        r = httpx.post(px.url + "/v1/chat/completions", json=body, headers=hdr, timeout=10)
        t.join()
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"] == "You said: slow one"
    assert len(fake.calls) == 1 and len(tape_files(tmp_path)) == 1


def test_foreign_host_refused_on_proxied_paths(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        r = httpx.post(px.url + "/v1/chat/completions", json={"model": "m", "messages": []},
                       headers={"host": "evil.example"})
        assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden_host"
        r = httpx.get(px.url + "/v1/models", headers={"host": f"localhost:{px.port}"})
        assert r.status_code == 200
    assert [c["path"] for c in fake.calls] == ["/v1/models"]


def test_secret_split_across_chunks_never_stored(tmp_path: Path, upstream: ThreadServer) -> None:
    # the fake echoes the prompt word by word: the key lands split over several chunks,
    # next to a multi-byte character cut at a chunk edge
    secret = "sk-proj-" + "Q" * 30
    text = f"caf\u00e9 {secret[:12]} {secret[12:]} tok"
    with proxy(tmp_path, upstream=upstream.url) as px:
        with httpx.stream("POST", px.url + "/v1/chat/completions",
                          json={"model": "m", "stream": True, "messages": [{"role": "user", "content": secret}]},
                          headers={"x-fake-gap-ms": "1"}) as r:
            r.read()
        with httpx.stream("POST", px.url + "/v1/chat/completions",
                          json={"model": "m", "stream": True, "messages": [{"role": "user", "content": text}]},
                          headers={"x-fake-gap-ms": "1"}) as r:
            r.read()
    for path in tape_files(tmp_path):
        tape = json.loads(path.read_text())
        joined = b"".join(
            base64.b64decode(c["c"]["$base64"]) if isinstance(c["c"], dict) else c["c"].encode()
            for c in tape["response"]["chunks"])
        assert secret.encode() not in joined


def test_generic_endpoint_keeps_stream_flag_in_the_key(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    # no conversion exists for an unknown API: its streamed and plain replies differ
    with proxy(tmp_path, upstream=upstream.url) as px:
        for flag in (True, False, True):
            httpx.post(px.url + "/v1/some/custom/api", json={"q": 1, "stream": flag})
    assert len(fake.calls) == 2
