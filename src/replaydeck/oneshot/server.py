"""``replaydeck replay``: answer every HTTP request with one recorded response.

As asgi-replay does, there is no matching: whatever the method and path, the
client gets the recorded status, headers and body. Unlike asgi-replay, the body is
paced by the recorded delays (``--timing`` as in ``start``), using the proxy's own
replay code (``proxy.replay.prepare`` / ``send_prepared``), and a client that goes
away stops the replay instead of leaving it sleeping.
"""

from __future__ import annotations

import asyncio
from typing import Any

from replaydeck import _aio
from replaydeck.models import Tape
from replaydeck.providers import default_registry
from replaydeck.proxy.replay import prepare, send_prepared
from replaydeck.settings import Timing
from replaydeck.storage.filesystem import Entry


class ReplayOne:
    def __init__(self, tape: Tape, timing: Timing) -> None:
        self.tape = tape
        self.timing = timing
        provider = default_registry(load_entry_points=False).get(tape.provider)
        # as recorded, whatever the client asks: this server has one answer
        self.prepared = prepare(Entry(tape, (0, 0, 0)), provider, None, None)
        self.served = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        while True:  # the request body is read and ignored
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            if not msg.get("more_body", False):
                break
        self.served += 1
        reply = _aio.create_task(send_prepared(self.prepared, send, self.timing.scale),
                                 name="replaydeck-replay-one")
        gone = _aio.create_task(_disconnected(receive), name="replaydeck-replay-watch")
        done, _ = await asyncio.wait({reply, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in (reply, gone):
            if task not in done:
                task.cancel()
        if reply in done:
            reply.result()  # re-raise a send failure


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
