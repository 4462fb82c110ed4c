"""Record with the real openai SDK through a real proxy, then replay with the upstream stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openai
import orjson
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.support import FAKE_KEYS, ThreadServer, proxy, tape_files

KEY = FAKE_KEYS[0]


def client(url: str, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, **kw)  # type: ignore[arg-type]


def ask(c: openai.OpenAI, text: str, stream: bool, usage: bool = False) -> tuple[str, str | None, object]:
    kw: dict[str, object] = {}
    if stream and usage:
        kw["stream_options"] = {"include_usage": True}
    if not stream:
        r = c.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": text}])
        return r.choices[0].message.content or "", r.choices[0].finish_reason, r.usage
    parts, finish, used = [], None, None
    for chunk in c.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": text}], stream=True, **kw
    ):
        if chunk.usage:
            used = chunk.usage
        for ch in chunk.choices:
            parts.append(ch.delta.content or "")
            finish = ch.finish_reason or finish
    return "".join(parts), finish, used


@pytest.mark.parametrize("stream", [False, True])
def test_record_then_replay_with_upstream_stopped(tmp_path: Path, stream: bool) -> None:
    fake = FakeUpstream()
    up = ThreadServer(fake).start()
    with proxy(tmp_path, upstream=up.url) as px:
        first = ask(client(px.url), "hello world", stream, usage=True)
        assert first[0] == "You said: hello world"
        assert len(fake.calls) == 1
        up.stop()
        again = ask(client(px.url), "hello world", stream, usage=True)
        assert again == first
    assert len(tape_files(tmp_path)) == 1
    # a fresh process (new proxy, replay-only) replays the same tape
    with proxy(tmp_path, upstream=up.url, record="replay-only") as px:
        assert ask(client(px.url), "hello world", stream, usage=True) == first


def test_async_client_streams_and_replays(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    async def run(url: str) -> list[str]:
        c = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
        out = []
        for _ in range(2):
            parts = []
            stream = await c.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "async hi"}], stream=True
            )
            async for chunk in stream:
                parts.extend(ch.delta.content or "" for ch in chunk.choices)
            out.append("".join(parts))
            r = await c.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "async hi"}])
            out.append(r.choices[0].message.content or "")
        await c.close()
        return out

    with proxy(tmp_path, upstream=upstream.url) as px:
        results = asyncio.run(run(px.url))
    assert results == ["You said: async hi"] * 4
    assert len(fake.calls) == 1  # one recording served all four calls, both framings


def test_cross_mode_conversion_both_ways(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        c = client(px.url)
        # recorded streamed -> replayed non-streamed
        streamed = ask(c, "one", True)
        plain = ask(c, "one", False)
        assert plain[0] == streamed[0] and plain[1] == "stop"
        # recorded non-streamed -> replayed streamed, usage only when asked
        plain2 = ask(c, "two", False)
        s2 = ask(c, "two", True)
        assert s2[0] == plain2[0] and s2[1] == "stop" and s2[2] is None
        s3 = ask(c, "two", True, usage=True)
        assert s3[2] is not None and s3[2].total_tokens == 8  # type: ignore[attr-defined]
    assert len(fake.calls) == 2


def test_tool_call_converted_to_stream(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        c = client(px.url, default_headers={"x-fake-fixture": "openai_chat_nonstream_toolcall.json"})
        msgs = [{"role": "user", "content": "weather?"}]
        direct = c.chat.completions.create(model="gpt-4o", messages=msgs)  # type: ignore[arg-type]
        with c.chat.completions.stream(model="gpt-4o", messages=msgs) as s:  # type: ignore[arg-type]
            for _ in s:
                pass
            final = s.get_final_completion()
    call = direct.choices[0].message.tool_calls[0]  # type: ignore[index]
    streamed = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert streamed.id == call.id and streamed.function.name == call.function.name  # type: ignore[union-attr]
    assert orjson.loads(streamed.function.arguments) == orjson.loads(call.function.arguments)  # type: ignore[union-attr]
    assert final.choices[0].finish_reason == "tool_calls"
    assert len(fake.calls) == 1


def test_tape_contents_and_headers(tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        c = client(px.url)
        raw = c.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "hdr"}]
        )
        assert raw.headers["x-replaydeck-source"] == "upstream"
        raw2 = c.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "hdr"}]
        )
        assert raw2.headers["x-replaydeck-source"] == "tape"
        assert raw2.headers["content-type"] == "application/json"
        assert raw2.headers["x-request-id"] == "req_fake_1"
        assert "set-cookie" not in raw2.headers
    [path] = tape_files(tmp_path)
    tape = orjson.loads(path.read_bytes())
    assert tape["version"] == 1
    assert tape["meta"]["hash"] == path.stem and tape["meta"]["model"] == "gpt-test"
    assert tape["meta"]["summary"]["text"] == "You said: hdr"
    assert tape["request"]["method"] == "POST" and tape["request"]["path"] == "/v1/chat/completions"
    assert "authorization" not in tape["request"]["headers"]
    assert tape["response"]["status"] == 200
    assert tape["response"]["chunks"][0]["d"] >= 0
    assert raw2.headers["x-replaydeck-tape"] == tape["meta"]["id"]
