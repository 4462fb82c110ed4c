"""Live events: bounded delivery with gap markers, no per-chunk work without a browser,
and streamed text redacted even when a key is split across deltas."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from websockets.sync.client import connect

from replaydeck import _aio
from replaydeck.dashboard import live
from replaydeck.dashboard.live import LiveEvents, LiveText
from replaydeck.events import EventBus
from replaydeck.history import HistoryRecorder
from replaydeck.redaction import Redactor
from tests.support import FAKE_KEYS, ThreadServer

from .conftest import dash, wait_for


class SlowSocket:
    """A browser that reads nothing until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.frames: list[list[dict[str, Any]]] = []

    async def send_text(self, text: str) -> None:
        await self.release.wait()
        self.frames.append(orjson.loads(text))


def test_a_stuck_browser_gets_a_gap_marker_and_the_bus_stays_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(live, "QUEUE", 5)

    class Proxy:
        bus = EventBus()
        redactor = Redactor()

    async def run() -> list[dict[str, Any]]:
        proxy = Proxy()
        recorder = HistoryRecorder(None, proxy.bus, "s")
        events = LiveEvents(proxy, recorder)
        sub = proxy.bus.subscribe(live.QUEUE)
        ws = SlowSocket()
        pump = _aio.create_task(events._pump(ws, sub, {"type": "hello"}), name="test-pump")
        await asyncio.sleep(0)
        for i in range(50):  # the browser is stuck: the proxy keeps publishing, never waits
            proxy.bus.publish({"type": "request.started", "id": str(i), "ts": 1.0})
        assert sub.queue.qsize() <= 5
        ws.release.set()
        await asyncio.sleep(0.05)
        proxy.bus.publish({"type": "request.started", "id": "last", "ts": 1.0})
        await asyncio.sleep(0.05)
        pump.cancel()
        return [ev for frame in ws.frames for ev in frame]

    got = asyncio.run(run())
    gaps = [e for e in got if e["type"] == "gap"]
    assert len(gaps) == 1 and gaps[0]["dropped"] >= 40
    started = [e["row"]["id"] for e in got if e["type"] == "started"]
    assert started[-1] == "s-last" and len(started) <= 7


def test_no_browser_no_delta_events(tmp_path: Path, upstream: ThreadServer) -> None:
    with dash(tmp_path, upstream.url) as px:
        bus = px.app.bus
        assert bus.active  # the history recorder listens...
        assert not bus.wants("request.delta")  # ...but not to per-chunk events
        with connect(f"ws://127.0.0.1:{px.port}/__replaydeck/api/events",
                     origin=px.url) as ws:  # type: ignore[arg-type]
            ws.recv(timeout=5)
            assert bus.wants("request.delta")
        assert wait_for(lambda: not bus.wants("request.delta"))


def test_live_text_redacts_a_key_split_across_deltas() -> None:
    text = LiveText(Redactor().text)
    key = FAKE_KEYS[0]
    sent = ""
    pieces = ["my key is ", key[:7], key[7:15], key[15:], " and more", " text"]
    for piece in pieces:
        out = text.feed("r", [{"kind": "text", "text": piece}])
        if out is not None:
            sent = out["text"] if out.get("replace") else sent + out["text"]
            assert key[:12] not in sent
    assert sent == "my key is REDACTED and more "  # the unfinished last word waits for the end
    assert text.feed("r", [{"kind": "tool_call", "name": "get_weather"}])["tools"] == ["get_weather"]
