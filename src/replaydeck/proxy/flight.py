"""Single flight: one upstream call per key, however many identical requests wait on it.

A ``Flight`` is the live record of one upstream response: its head, its chunks
with their delays, and how it ended. The upstream read runs in its own task and
appends to the flight; every client of that key (the first one and any that
join) follows it at its own pace. When the last follower goes away before the
end (clients disconnected), the upstream read is cancelled and nothing is saved,
unless the provider's parser already saw the stream's own end marker (``whole``):
SDKs close the connection right after ``[DONE]``, before the upstream's last empty
read, and that response is complete and nothing is left to pay for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from replaydeck.errors import ReplaydeckError
from replaydeck.models import Tape


class Flight:
    def __init__(self, key: str) -> None:
        self.key = key
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.delays: list[float] = []
        self.head_ready = False
        self.finished = False
        self.whole = False  # the provider saw the stream's end marker; only framing is left
        self.error: ReplaydeckError | None = None
        self.tape: Tape | None = None  # set once the recording is saved
        self.settled = asyncio.Event()  # recording saved or given up
        self.followers = 0
        self.task: asyncio.Task[Any] | None = None
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    def set_head(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers, self.head_ready = status, headers, True
        self._notify()

    def append(self, data: bytes, delay_ms: float) -> None:
        self.chunks.append(data)
        self.delays.append(delay_ms)
        self._notify()

    def finish(self, error: ReplaydeckError | None = None) -> None:
        self.error = error
        self.finished = True
        self._notify()

    async def wait_head(self) -> None:
        while not self.head_ready and not self.finished:
            await self._changed.wait()

    async def follow(self) -> AsyncIterator[tuple[bytes, bool]]:
        """Every chunk, those already received first, then live ones as they come.

        Each comes with whether it is known to be the last one of a clean end (the
        flight had finished when it was handed out), so a follower can send it as
        the end of the body instead of sending an empty closing chunk after it."""
        i = 0
        while True:
            while i < len(self.chunks):
                i += 1
                yield self.chunks[i - 1], (self.finished and self.error is None
                                           and i == len(self.chunks))
            if self.finished:
                return
            await self._changed.wait()

    def attach(self) -> None:
        self.followers += 1

    def detach(self) -> None:
        self.followers -= 1
        if self.followers <= 0 and not self.finished and not self.whole and self.task is not None:
            self.task.cancel()
