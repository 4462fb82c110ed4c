"""Live events for browsers, over one WebSocket per tab.

Rules:
* A browser subscribes to the bus only while its socket is open: with no browser
  attached, the proxy builds no live events at all (``EventBus.wants``).
* Delivery is bounded: the subscription queue holds at most ``QUEUE`` events; when
  a browser reads too slowly, events are dropped and it receives a ``gap`` marker
  with the count (the UI shows it and reloads the list from the history).
* Events waiting in the queue are sent together as one JSON array per frame, so a
  burst of stream deltas costs one socket write, not hundreds.
* Streamed text is redacted before it leaves: the parser's live text comes from
  raw upstream bytes, and a key may arrive split over two deltas. Text is held
  back up to the last whitespace (keys contain none), the stable part redacted,
  and only what follows the part already sent goes out (``LiveText``).
* The browser sends nothing we act on; the only message read is the close.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from replaydeck import _aio
from replaydeck.history import HistoryRecorder

from .shapes import browser_event

QUEUE = 1000
BATCH = 200


class LiveText:
    """Per-request streamed text, redacted and released at whitespace boundaries."""

    def __init__(self, redact: Any) -> None:
        self.redact = redact
        self.raw: dict[str, str] = {}
        self.sent: dict[str, str] = {}

    def feed(self, hid: str, events: list[dict[str, Any]]) -> dict[str, Any] | None:
        raw = self.raw.get(hid, "")
        tools: list[str] = []
        for e in events:
            if e.get("kind") == "text":
                raw += str(e.get("text") or "")
            elif e.get("kind") == "tool_call" and e.get("name"):
                tools.append(self.redact(str(e["name"])))
        self.raw[hid] = raw
        cut = max(raw.rfind(" "), raw.rfind("\n"), raw.rfind("\t"))
        stable = self.redact(raw[: cut + 1])
        sent = self.sent.get(hid, "")
        if stable == sent and not tools:
            return None
        out: dict[str, Any] = {"type": "delta", "id": hid, "tools": tools}
        if stable.startswith(sent):
            out["text"] = stable[len(sent):]
        else:  # a match grew across the boundary: send the whole text again
            out["text"], out["replace"] = stable, True
        self.sent[hid] = stable
        return out

    def done(self, hid: str) -> None:
        self.raw.pop(hid, None)
        self.sent.pop(hid, None)


class LiveEvents:
    def __init__(self, proxy: Any, recorder: HistoryRecorder) -> None:
        self.proxy = proxy
        self.recorder = recorder

    async def endpoint(self, ws: WebSocket) -> None:
        await ws.accept()
        sub = self.proxy.bus.subscribe(QUEUE)
        rt = self.proxy.runtime
        hello = {"type": "hello", "session": self.recorder.session, "mode": rt.mode.value,
                 "timing": str(rt.timing), "inflight": self.recorder.inflight()}
        sender = _aio.create_task(self._pump(ws, sub, hello), name="replaydeck-live-events")
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            sub.close()
            sender.cancel()
            try:
                await sender
            except (asyncio.CancelledError, Exception):  # the socket is gone either way
                pass

    async def _pump(self, ws: WebSocket, sub: Any, hello: dict[str, Any]) -> None:
        await ws.send_text(orjson.dumps([hello]).decode())
        text = LiveText(self.proxy.redactor.text)
        while True:
            batch = [await sub.get()]
            while len(batch) < BATCH and not sub.queue.empty():
                batch.append(sub.queue.get_nowait())
            out = []
            for ev in batch:
                rid = ev.get("id")
                hid = self.recorder.hid(rid) if rid else ""
                kind = ev.get("type")
                if kind == "request.delta":
                    shaped = text.feed(hid, ev.get("events") or [])
                else:
                    if kind == "request.completed":
                        text.done(hid)
                    shaped = browser_event(ev, hid)
                if shaped is not None:
                    out.append(shaped)
            if out:
                await ws.send_text(orjson.dumps(out).decode())
