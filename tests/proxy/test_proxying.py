"""Forwarding: every method and path, bytes and headers, streaming, failures."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream
from tests.support import FAKE_KEYS, ThreadServer, proxy, running, tape_files

KEY = FAKE_KEYS[0]


def test_any_method_path_query_and_body_forwarded_byte_for_byte(
    tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream
) -> None:
    body = b"not json at all \xff\x00 bytes"
    with proxy(tmp_path, upstream=upstream.url, record="off") as px:
        r = httpx.request(
            "PATCH",
            px.url + "/some/odd/path?b=2&a=1&a=0",
            content=body,
            headers={
                "content-type": "application/octet-stream",
                "authorization": "Bearer " + KEY,
                "x-api-key": "k1",
                "api-key": "k2",
                "anthropic-version": "2023-06-01",
                "connection": "keep-alive, x-hop",
                "x-hop": "must not pass",
                "keep-alive": "timeout=5",
            },
        )
    assert r.status_code == 200
    call = fake.calls[-1]
    assert call["method"] == "PATCH" and call["path"] == "/some/odd/path"
    assert call["query"] == "b=2&a=1&a=0"
    assert call["body"] == body
    h = call["headers"]
    assert h["authorization"] == "Bearer " + KEY and h["x-api-key"] == "k1" and h["api-key"] == "k2"
    assert h["anthropic-version"] == "2023-06-01"
    assert "x-hop" not in h and "keep-alive" not in h
    assert r.headers["x-replaydeck-source"] == "passthrough"
    assert tape_files(tmp_path) == []


def test_upstream_sees_only_what_the_client_sent(
    tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream
) -> None:
    """No header of the proxy's own (User-Agent, Accept, a default Content-Type), repeated
    headers in order, and the query's bytes as written (escapes not re-quoted)."""
    raw = (b"POST /v1/echo?x=%7e&y=a%2Fb&z=%41 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"X-Twice: 1\r\nX-Twice: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    with proxy(tmp_path, upstream=upstream.url, record="off") as px:
        with socket.create_connection(("127.0.0.1", int(px.url.rsplit(":", 1)[1]))) as sock:
            sock.sendall(raw)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 ")
    call = fake.calls[-1]
    assert call["query"] == "x=%7e&y=a%2Fb&z=%41" and call["body"] == b"abc"
    names = [k for k, _ in call["raw_headers"]]
    assert sorted(names) == ["accept-encoding", "content-length", "host", "x-twice", "x-twice"]
    assert [v for k, v in call["raw_headers"] if k == "x-twice"] == ["1", "2"]


def test_escaped_path_reaches_the_upstream_as_written(
    tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream
) -> None:
    """``a%2Fb`` is one path segment (a file or model id): decoding it would change the
    resource the upstream serves. The route prefix is taken off the raw path too."""
    with proxy(tmp_path, upstream=upstream.url, record="off",
               routes={"/other": upstream.url + "/base"}) as px:
        for path, expected in (("/v1/files/a%2Fb%20c", "/v1/files/a%2Fb%20c"),
                               ("/other/v1/x%2Fy", "/base/v1/x%2Fy")):
            with socket.create_connection(("127.0.0.1", int(px.url.rsplit(":", 1)[1]))) as sock:
                sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Connection: close\r\n\r\n")
                while sock.recv(65536):
                    pass
            assert fake.calls[-1]["raw_path"] == expected


def test_upstream_cookies_are_not_kept_between_calls(
    tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream
) -> None:
    # the fake's chat completion sets a cookie: the next client's call must not carry it
    with proxy(tmp_path, upstream=upstream.url, record="off") as px:
        for _ in range(2):
            r = httpx.post(px.url + "/v1/chat/completions", json={"model": "m", "messages": []})
            assert r.headers.get_list("set-cookie") == ["session=secret-cookie"]
    assert len(fake.calls) == 2 and "cookie" not in fake.calls[1]["headers"]


def test_json_body_not_rewritten(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    raw = b'{"model":"m", "stream":true,  "messages":[{"role":"user","content":"x"}]}'
    with proxy(tmp_path, upstream=upstream.url) as px:
        with httpx.stream("POST", px.url + "/v1/chat/completions", content=raw,
                          headers={"content-type": "application/json"}) as r:
            r.read()
    assert fake.calls[0]["body"] == raw  # no stream_options injected, spacing kept


@pytest.mark.parametrize("base", ["", "/v1"])
def test_upstream_with_or_without_v1(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream, base: str) -> None:
    with proxy(tmp_path, upstream=upstream.url + base, record="off") as px:
        httpx.get(px.url + "/v1/models")
        httpx.get(px.url + "/models")
    assert [c["path"] for c in fake.calls] == ["/v1/models", "/v1/models" if base else "/models"]


def test_routes_pick_the_upstream_by_prefix(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    other = FakeUpstream()
    with running(other) as up2, proxy(tmp_path, upstream=upstream.url, record="off",
                                      routes={"/second": up2.url}) as px:
        httpx.get(px.url + "/second/v1/thing?x=1")
        httpx.get(px.url + "/v1/thing")
    assert [(c["path"], c["query"]) for c in other.calls] == [("/v1/thing", "x=1")]
    assert [c["path"] for c in fake.calls] == ["/v1/thing"]


def test_gzip_upstream_is_decoded_for_the_client(tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        c = openai.OpenAI(base_url=px.url + "/v1", api_key=KEY, max_retries=0,
                          default_headers={"x-fake-gzip": "1"})
        for _ in range(2):  # recorded, then replayed
            r = c.chat.completions.with_raw_response.create(
                model="m", messages=[{"role": "user", "content": "zip"}])
            assert "content-encoding" not in r.headers
            assert r.parse().choices[0].message.content == "You said: zip"


def test_stream_relayed_as_it_arrives(tmp_path: Path, upstream: ThreadServer) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c d e f g h"}]}
    with proxy(tmp_path, upstream=upstream.url) as px, httpx.Client() as client:
        t0 = time.perf_counter()
        arrivals = []
        with client.stream("POST", px.url + "/v1/chat/completions", json=body,
                           headers={"x-fake-gap-ms": "80"}) as r:
            for _ in r.iter_raw():
                arrivals.append(time.perf_counter() - t0)
        total = arrivals[-1]
    # 12 chunks 80 ms apart: the first must reach the client long before the last
    assert total > 0.7
    assert arrivals[0] < total / 3
    assert len(arrivals) >= 6  # not one buffered blob


def test_upstream_refused_gives_provider_error_and_records_nothing(tmp_path: Path) -> None:
    with proxy(tmp_path, upstream="http://127.0.0.1:9") as px:
        c = openai.OpenAI(base_url=px.url + "/v1", api_key=KEY, max_retries=0)
        with pytest.raises(openai.InternalServerError) as info:
            c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 502
    assert "127.0.0.1:9" in str(info.value.message)
    assert info.value.body["type"] == "upstream_error"  # type: ignore[index]
    assert tape_files(tmp_path) == []


def test_upstream_timeout_is_504(tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url, read_timeout=0.3) as px:
        r = httpx.post(px.url + "/v1/chat/completions", json={"model": "m", "messages": []},
                       headers={"x-fake-ttfb-ms": "1500"}, timeout=10)
    assert r.status_code == 504
    assert r.json()["error"]["type"] == "upstream_timeout"
    assert tape_files(tmp_path) == []


def test_reset_mid_stream_raises_in_sdk_and_records_nothing(tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        c = openai.OpenAI(base_url=px.url + "/v1", api_key=KEY, max_retries=0,
                          default_headers={"x-fake-fail": "mid-stream"})
        with pytest.raises(openai.APIError):
            for _ in c.chat.completions.create(model="m", stream=True,
                                               messages=[{"role": "user", "content": "a b c d e"}]):
                pass
    assert tape_files(tmp_path) == []


def test_stream_without_done_is_not_recorded(tmp_path: Path, upstream: ThreadServer) -> None:
    with proxy(tmp_path, upstream=upstream.url) as px:
        with httpx.stream("POST", px.url + "/v1/chat/completions", headers={"x-fake-fail": "no-done"},
                          json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
            r.read()
    assert tape_files(tmp_path) == []


@pytest.mark.parametrize("mode", ["auto", "off"])  # off: the plain relay (proxy/relay.py)
def test_client_disconnect_cancels_upstream_and_saves_nothing(
    tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream, mode: str
) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c d e f g h i j"}]}
    with proxy(tmp_path, upstream=upstream.url, record=mode) as px:
        with httpx.stream("POST", px.url + "/v1/chat/completions", json=body,
                          headers={"x-fake-gap-ms": "200"}) as r:
            next(r.iter_raw())
        # the client hung up after the first chunk
        deadline = time.time() + 5
        while fake.cancelled == 0 and time.time() < deadline:
            time.sleep(0.05)
        assert fake.cancelled == 1
        assert px.app.flights == {}
    assert tape_files(tmp_path) == []


def test_concurrent_identical_misses_make_one_upstream_call(
    tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream
) -> None:
    async def run(url: str) -> list[str]:
        c = openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0,
                               default_headers={"x-fake-gap-ms": "30"})

        async def one(stream: bool) -> str:
            msgs = [{"role": "user", "content": "same question here"}]
            if not stream:
                r = await c.chat.completions.create(model="m", messages=msgs)  # type: ignore[arg-type]
                return r.choices[0].message.content or ""
            parts = []
            async for ch in await c.chat.completions.create(model="m", messages=msgs, stream=True):  # type: ignore[arg-type]
                parts.extend(x.delta.content or "" for x in ch.choices)
            return "".join(parts)

        first = asyncio.ensure_future(one(True))
        await asyncio.sleep(0.05)
        rest = await asyncio.gather(*(one(i % 2 == 0) for i in range(19)))
        out = [await first, *rest]
        await c.close()
        return out

    with proxy(tmp_path, upstream=upstream.url) as px:
        results = asyncio.run(run(px.url))
    assert len(fake.calls) == 1
    assert set(results) == {"You said: same question here"}
    assert len(tape_files(tmp_path)) == 1


def test_record_errors_flag(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    hdr = {"x-fake-status": "503"}
    with proxy(tmp_path, upstream=upstream.url) as px:
        for _ in range(2):
            r = httpx.post(px.url + "/v1/chat/completions", json={"model": "e"}, headers=hdr)
            assert r.status_code == 503
    assert len(fake.calls) == 2 and tape_files(tmp_path) == []
    with proxy(tmp_path, upstream=upstream.url, record_errors=True) as px:
        r1 = httpx.post(px.url + "/v1/chat/completions", json={"model": "e"}, headers=hdr)
        r2 = httpx.post(px.url + "/v1/chat/completions", json={"model": "e"}, headers=hdr)
    assert len(fake.calls) == 3
    assert r2.status_code == 503 and r2.json() == r1.json()
    assert r2.headers["x-should-retry"] == "false" and r2.headers["x-replaydeck-source"] == "tape"


def test_mode_off_never_records_or_replays(tmp_path: Path, upstream: ThreadServer, fake: FakeUpstream) -> None:
    with proxy(tmp_path, upstream=upstream.url, record="off") as px:
        for _ in range(2):
            httpx.post(px.url + "/v1/chat/completions", json={"model": "m", "messages": []})
    assert len(fake.calls) == 2 and tape_files(tmp_path) == []


def test_secret_query_params_and_headers_never_stored_or_logged(
    tmp_path: Path, upstream: ThreadServer, capfd: pytest.CaptureFixture[str]
) -> None:
    gkey = FAKE_KEYS[2]
    with proxy(tmp_path, upstream=upstream.url, quiet=False) as px:
        httpx.post(px.url + f"/v1beta/models/x:generateContent?key={gkey}&alt=json",
                   json={"contents": [{"parts": [{"text": "my key is " + KEY}]}]},
                   headers={"x-goog-api-key": gkey, "authorization": "Bearer " + KEY,
                            "cookie": "sid=secret-cookie"})
    err = capfd.readouterr().err
    assert gkey not in err and KEY not in err
    [path] = tape_files(tmp_path)
    text = path.read_text()
    assert "secret-cookie" not in text and "REDACTED" in text
    tape = json.loads(text)
    assert "alt=json" in tape["request"]["query"]
