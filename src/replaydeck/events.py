"""The event bus: request lifecycle events for the dashboard and history.

Rule: publishing never blocks and never grows without bound. Each subscriber
has a bounded queue; when it is full the event is dropped and the subscriber
is told how many it missed (a gap marker) with its next delivered event. With
no subscriber, ``publish`` returns at once and the caller can skip building
events altogether by checking ``active``. A subscriber may ask for some kinds
only (history wants no per-chunk deltas): ``wants(kind)`` tells the publisher
whether anyone listens for a kind, so per-chunk work is skipped without a browser.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int, kinds: frozenset[str] | None = None) -> None:
        self.bus = bus
        self.kinds = kinds
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: dict[str, Any]) -> None:
        if self.dropped and not self.queue.full():
            try:
                self.queue.put_nowait({"type": "gap", "dropped": self.dropped})
                self.dropped = 0
            except asyncio.QueueFull:  # pragma: no cover - checked just above
                pass
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def get(self) -> dict[str, Any]:
        return await self.queue.get()

    def close(self) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    @property
    def active(self) -> bool:
        return bool(self._subs)

    def wants(self, kind: str) -> bool:
        return any(s.kinds is None or kind in s.kinds for s in self._subs)

    def subscribe(self, maxsize: int = 1000, kinds: frozenset[str] | None = None) -> Subscription:
        sub = Subscription(self, maxsize, kinds)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        for sub in self._subs:
            if sub.kinds is None or kind in sub.kinds:
                sub.offer(event)
