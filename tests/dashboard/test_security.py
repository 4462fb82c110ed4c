"""The guard in front of the dashboard: Host allowlist, cross-site refusal, token off loopback,
no CORS, and no secret ever sent to the browser."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from replaydeck.proxy.app import ProxyApp
from replaydeck.proxy.control import ControlApp
from replaydeck.settings import Settings
from tests.support import FAKE_KEYS, ThreadServer

from .conftest import dash, sdk, wait_for

API = "/__replaydeck/api"
EVIL = "https://evil.example"


def assert_no_cors(r: httpx.Response) -> None:
    assert not [h for h in r.headers if h.lower().startswith("access-control-")], r.headers


def test_host_origin_and_websocket_guards(tmp_path: Path, upstream: ThreadServer) -> None:
    with dash(tmp_path, upstream.url) as px, httpx.Client(base_url=px.url) as c:
        ws_url = f"ws://127.0.0.1:{px.port}{API}/events"
        # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host
        for path in ("/__replaydeck/", API + "/requests", API + "/settings"):
            r = c.get(path, headers={"host": "evil.example", "accept": "text/html"})
            assert r.status_code == 403, path
            assert_no_cors(r)
        r = c.get("/", headers={"host": "evil.example:4747", "accept": "text/html"})
        assert r.status_code == 403
        # cross-site writes are refused and change nothing
        for headers in ({"origin": EVIL}, {"sec-fetch-site": "cross-site"}, {"origin": "null"}):
            r = c.patch(API + "/settings", json={"mode": "off"}, headers=headers)
            assert r.status_code == 403, headers
            assert_no_cors(r)
        assert c.get(API + "/settings").json()["mode"] == "auto"
        r = c.request("OPTIONS", API + "/settings", headers={
            "origin": EVIL, "access-control-request-method": "PATCH"})
        assert_no_cors(r)
        # the same request from our own page works
        r = c.patch(API + "/settings", json={"mode": "off"},
                    headers={"origin": px.url, "sec-fetch-site": "same-origin"})
        assert r.status_code == 200 and r.json()["mode"] == "off"
        # WebSocket: another origin or host is refused at the handshake
        with pytest.raises(InvalidStatus):
            connect(ws_url, origin=EVIL, open_timeout=5)  # type: ignore[arg-type]
        with pytest.raises(InvalidStatus):  # Host: evil.example, delivered to 127.0.0.1
            sock = socket.create_connection(("127.0.0.1", px.port))
            connect(f"ws://evil.example:{px.port}{API}/events", sock=sock, open_timeout=5)
        with pytest.raises(InvalidStatus):  # a second Host header is not a way around it
            connect(ws_url, additional_headers={"host": "evil.example"}, open_timeout=5)
        with connect(ws_url, origin=px.url, open_timeout=5) as ws:  # type: ignore[arg-type]
            hello = orjson.loads(ws.recv(timeout=5))[0]
            assert hello["type"] == "hello" and hello["mode"] == "off"
        for path in ("/__replaydeck/", API + "/requests", API + "/openapi.json",
                     "/__replaydeck/static/app.js"):
            r = c.get(path, headers={"accept": "text/html"})
            assert r.status_code == 200, path
            assert_no_cors(r)


def test_no_fake_key_reaches_the_browser(tmp_path: Path, upstream: ThreadServer) -> None:
    """Keys in headers, in the prompt (echoed back by the upstream) and split across stream
    deltas never appear in the API, the page or the live events."""
    with dash(tmp_path, upstream.url) as px, httpx.Client(base_url=px.url) as c:
        frames: list[str] = []
        with connect(f"ws://127.0.0.1:{px.port}{API}/events", origin=px.url) as ws:  # type: ignore[arg-type]
            ws.recv(timeout=5)
            oa = sdk(px.url, default_headers={"x-api-key": FAKE_KEYS[1], "x-goog-api-key": FAKE_KEYS[2],
                                              "x-fake-gap-ms": "5"})
            prompt = f"my keys {FAKE_KEYS[0]} and {FAKE_KEYS[1]} and {FAKE_KEYS[2]} thanks"
            for _ in oa.chat.completions.create(model="gpt-test", stream=True,
                                                messages=[{"role": "user", "content": prompt}]):
                pass
            while True:
                frame = ws.recv(timeout=5)
                frames.append(str(frame))
                if '"completed"' in str(frame):
                    break
        text = "".join(frames)
        assert "my keys REDACTED" in text  # the streamed text did arrive, redacted
        rid = wait_for(lambda: c.get(API + "/requests").json()["items"])[0]["id"]
        pages = [c.get(p).text for p in (
            API + "/requests", f"{API}/requests/{rid}", f"{API}/requests/{rid}/curl",
            f"{API}/requests/{rid}/nearest", API + "/tapes", API + "/settings", "/__replaydeck/")]
        key = wait_for(lambda: c.get(API + "/tapes").json()["items"])[0]["key"]
        pages.append(c.get(f"{API}/tapes/{key}").text)
        # the database and its write-ahead log
        blob = b"".join(p.read_bytes() for p in (tmp_path / ".replaydeck").glob("history.db*"))
        assert b"my keys REDACTED" in blob
        for key in FAKE_KEYS:
            assert key not in text
            assert key.encode() not in blob
            for page in pages:
                assert key not in page


# ---------------------------------------------------------------- token (off loopback)

async def _asgi_calls(app: Any) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    out = []
    async with httpx.AsyncClient(transport=transport, base_url="http://192.168.7.7:4747") as c:
        out.append(await c.get(API + "/requests"))  # 0: no token
        out.append(await c.get("/", params={"token": "wrong" * 5}, headers={"accept": "text/html"}))
        out.append(await c.get("/", params={"token": TOKEN}, headers={"accept": "text/html"}))  # 2
        cookie = out[-1].headers.get("set-cookie", "").split(";")[0]
        out.append(await c.get(API + "/requests", headers={"cookie": cookie}))  # 3
        out.append(await c.get(API + "/requests", headers={"x-replaydeck-token": TOKEN}))  # 4
        out.append(await c.get("/health"))  # 5: health needs no token
        out.append(await c.get(API + "/requests", headers={"host": "evil.example",
                                                           "x-replaydeck-token": TOKEN}))  # 6
        out.append(await c.get(API + "/requests", headers={"cookie": "replaydeck_token=nope"}))
    return out


TOKEN = "t0ken-" + "x" * 20


def test_token_required_off_loopback(tmp_path: Path) -> None:
    async def dashboard(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"dashboard"})

    settings = Settings(host="0.0.0.0", tapes_dir=tmp_path / "t")
    proxy = ProxyApp(settings)
    control = ControlApp(proxy, "0.0.0.0", dashboard, TOKEN)
    r = asyncio.run(_asgi_calls(control))
    assert r[0].status_code == 401 and "token" in r[0].json()["error"]["message"]
    assert r[1].status_code == 401
    assert r[2].status_code == 303 and r[2].headers["location"] == "/"
    cookie = r[2].headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN in cookie
    assert r[3].status_code == 200 and r[3].text == "dashboard"
    assert r[4].status_code == 200
    assert r[5].status_code == 200 and r[5].json()["status"] == "ok"
    assert r[6].status_code == 403  # a host *name* is still refused: rebinding
    assert r[7].status_code == 401
    # loopback binds need no token; other binds get a random one when none is configured
    assert ControlApp(proxy, "127.0.0.1", dashboard).token is None
    made = ControlApp(proxy, "10.1.2.3", dashboard).token
    assert made is not None and len(made) >= 24
    assert ControlApp(proxy, "10.1.2.3", dashboard).login_url("http://10.1.2.3:4747").startswith(
        "http://10.1.2.3:4747/?token=")


def test_banner_prints_the_dashboard_url_with_its_token(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from replaydeck.cli.start import banner

    settings = Settings(host="10.0.0.1", tapes_dir=tmp_path / "t")
    control = ControlApp(ProxyApp(settings), settings.host, None, TOKEN)
    banner(settings, "http://10.0.0.1:4747", control.login_url("http://10.0.0.1:4747"))
    err = capsys.readouterr().err
    assert f"dashboard http://10.0.0.1:4747/?token={TOKEN}" in err
    banner(Settings(tapes_dir=tmp_path / "t"), "http://127.0.0.1:4747",
           ControlApp(ProxyApp(settings), "127.0.0.1").login_url("http://127.0.0.1:4747"))
    err = capsys.readouterr().err
    assert "dashboard http://127.0.0.1:4747/" in err and "token" not in err
