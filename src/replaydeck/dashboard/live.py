"""Live events for browsers, over one WebSocket per tab.

Rules:
* A browser subscribes to the bus only while its socket is open: with no browser
  attached, the proxy builds no live events at all (``EventBus.wants``).
* Delivery is bounded: the subscription queue holds at most ``QUEUE`` events; when
  a browser reads too slowly, events are dropped and it receives a ``gap`` marker
  with the count (the UI shows it and reloads the list from the history).
* Events waiting in the queue are sent together as one JSON array per frame, so a
  burst of stream deltas costs one socket write, not hundreds.
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
        while True:
            batch = [await sub.get()]
            while len(batch) < BATCH and not sub.queue.empty():
                batch.append(sub.queue.get_nowait())
            out = []
            for ev in batch:
                rid = ev.get("id")
                shaped = browser_event(ev, self.recorder.hid(rid) if rid else "")
                if shaped is not None:
                    out.append(shaped)
            if out:
                await ws.send_text(orjson.dumps(out).decode())
