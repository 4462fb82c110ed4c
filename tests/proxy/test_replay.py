"""Replay: misses that explain themselves, timing, corrupt and deleted tapes, legacy tapes, sequences."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest

from replaydeck.matching import legacy_playingpack_hash
from tests.fakes.upstream import FakeUpstream
from tests.support import FAKE_KEYS, ThreadServer, proxy, settle, tape_files

KEY = FAKE_KEYS[0]


def chat(url: str, text: str, **kw: object) -> str:
    c = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    r = c.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": text}], **kw)  # type: ignore[call-overload]
    return r.choices[0].message.content or ""


def test_replay_only_miss_names_nearest_tape_and_field(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        chat(px.url, "what is the capital of France?")
    with proxy(tmp_path, upstream=upstream.url, record="replay-only") as px:
        c = openai.OpenAI(base_url=px.url + "/v1", api_key=KEY, max_retries=2)
        t0 = time.perf_counter()
        with pytest.raises(openai.NotFoundError) as info:
            c.chat.completions.create(model="gpt-test",
                                      messages=[{"role": "user", "content": "what is the capital of Spain?"}])
        assert time.perf_counter() - t0 < 2  # no retries: x-should-retry false
        assert info.value.response.headers["x-should-retry"] == "false"
    msg = str(info.value.message)
    [tape] = tape_files(tmp_path)
    assert "messages[0].content" in msg
    assert json.loads(tape.read_text())["meta"]["id"] in msg
    assert "capital of Spain" in msg and "capital of France" in msg
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "replaydeck_tape_not_found"
    assert len(fake.calls) == 1


def test_replay_only_with_no_tapes_at_all(tmp_path: Path) -> None:
    with proxy(tmp_path, upstream="http://127.0.0.1:9", record="replay-only") as px:
        r = httpx.post(px.url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert r.status_code == 404
    assert "No recorded tape is close" in r.json()["error"]["message"]


def record_stream(tmp_path: Path, upstream: ThreadServer, gap_ms: int, ttfb_ms: int) -> dict[str, object]:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "one two three four"}]}
    with proxy(tmp_path, upstream=upstream.url) as px:
        with httpx.stream("POST", px.url + "/v1/chat/completions", json=body,
                          headers={"x-fake-gap-ms": str(gap_ms), "x-fake-ttfb-ms": str(ttfb_ms)}) as r:
            r.read()
    return body


def timed(url: str, body: dict[str, object]) -> tuple[float, list[float]]:
    with httpx.Client() as client:  # built first: creating a client costs tens of ms
        client.get(url + "/health")
        t0 = time.perf_counter()
        arrivals = []
        with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
            for _ in r.iter_raw():
                arrivals.append(time.perf_counter() - t0)
    return arrivals[0], arrivals


def test_timing_original_instant_and_factor(tmp_path: Path, upstream: ThreadServer) -> None:
    body = record_stream(tmp_path, upstream, gap_ms=60, ttfb_ms=150)
    [tape] = tape_files(tmp_path)
    chunks = json.loads(tape.read_text())["response"]["chunks"]
    assert chunks[0]["d"] >= 140  # time to first byte was recorded, not forced to 0
    assert all(c["d"] >= 50 for c in chunks[1:])
    recorded_total = sum(c["d"] for c in chunks) / 1000
    with proxy(tmp_path, timing="original", record="replay-only") as px:
        ttfb, arrivals = timed(px.url, body)
    assert ttfb >= 0.12 and arrivals[-1] >= recorded_total * 0.9
    assert len(arrivals) >= 5  # chunk boundaries kept
    with proxy(tmp_path, timing="instant", record="replay-only") as px:
        _, arrivals = timed(px.url, body)
    assert arrivals[-1] < recorded_total / 3
    with proxy(tmp_path, timing="0.5", record="replay-only") as px:
        _, arrivals = timed(px.url, body)
    assert recorded_total * 0.4 <= arrivals[-1] < recorded_total * 0.85


def test_corrupt_tape_is_reported_and_others_keep_working(tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        chat(px.url, "good")
        chat(px.url, "bad")
        settle(px)
        paths = {json.loads(p.read_text())["meta"]["summary"]["text"]: p for p in tape_files(tmp_path)}
        paths["You said: bad"].write_text("{ this is not json")
        with pytest.raises(openai.InternalServerError) as info:
            chat(px.url, "bad")
        assert "corrupt" in str(info.value.message)
        assert chat(px.url, "good") == "You said: good"
        r = httpx.get(px.url + "/health")
        assert r.json()["status"] == "ok"


def test_deleted_tape_takes_effect_without_restart(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        chat(px.url, "again")
        chat(px.url, "again")
        assert len(fake.calls) == 1
        settle(px)
        tape_files(tmp_path)[0].unlink()
        chat(px.url, "again")
        assert len(fake.calls) == 2


def test_edited_tape_is_picked_up(tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        chat(px.url, "edit me")
        settle(px)
        [path] = tape_files(tmp_path)
        data = json.loads(path.read_text())
        body = json.loads(data["response"]["chunks"][0]["c"])
        body["choices"][0]["message"]["content"] = "edited by hand"
        data["response"]["chunks"] = [{"c": json.dumps(body), "d": 0}]
        path.write_text(json.dumps(data))
        assert chat(px.url, "edit me") == "edited by hand"


def test_playingpack_legacy_tape_replays(tmp_path: Path) -> None:
    req = {"model": "gpt-4o", "messages": [{"role": "user", "content": "legacy"}], "stream": True}
    h = legacy_playingpack_hash(req)
    assert h is not None
    sse = (
        'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
        'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"from playingpack"},"finish_reason":null}]}\n\n'
        'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        "data: [DONE]\n\n"
    )
    tape = {"meta": {"id": "0d7c", "hash": h, "timestamp": "2026-01-15T10:00:00.000Z", "model": "gpt-4o",
                     "endpoint": "/v1/chat/completions"},
            "request": {"body": req},
            "response": {"status": 200, "chunks": [{"c": sse[:150], "d": 0}, {"c": sse[150:], "d": 12}]}}
    (tmp_path / "tapes").mkdir()
    (tmp_path / "tapes" / f"{h}.json").write_text(json.dumps(tape, indent=2))
    with proxy(tmp_path, upstream="http://127.0.0.1:9", record="replay-only") as px:
        c = openai.OpenAI(base_url=px.url + "/v1", api_key=KEY, max_retries=0)
        parts = []
        for ch in c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "legacy"}], stream=True):
            parts.extend(x.delta.content or "" for x in ch.choices)
        assert "".join(parts) == "from playingpack"
        # the same legacy tape serves a non-streamed client as a chat.completion
        r = c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "legacy"}])
        assert r.choices[0].message.content == "from playingpack"


def test_sequences_record_in_order_and_replay_in_order(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    def ask(url: str) -> str:
        r = httpx.post(url + "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "poll"}]})
        return str(r.json()["choices"][0]["message"]["content"]) + "|" + r.headers["x-replaydeck-source"]

    with proxy(tmp_path, upstream=upstream.url, sequence=True) as px:
        recorded = [ask(px.url) for _ in range(3)]
    assert len(fake.calls) == 3 and all(r.endswith("|upstream") for r in recorded)
    files = tape_files(tmp_path)
    assert len(files) == 3
    # make the three recordings distinguishable
    for path in files:
        data = json.loads(path.read_text())
        n = data["meta"].get("sequence", 0)
        body = json.loads(data["response"]["chunks"][0]["c"])
        body["choices"][0]["message"]["content"] = f"answer {n}"
        data["response"]["chunks"] = [{"c": json.dumps(body), "d": 0}]
        path.write_text(json.dumps(data))
    with proxy(tmp_path, upstream=upstream.url, sequence=True, record="replay-only") as px:
        got = [ask(px.url).split("|")[0] for _ in range(5)]
        assert got == ["answer 0", "answer 1", "answer 2", "answer 2", "answer 2"]
        httpx.post(px.url + "/__replaydeck/api/sequences/reset")
        assert ask(px.url).split("|")[0] == "answer 0"
    assert len(fake.calls) == 3
