"""Asyncio helpers.

Rule: every background task has a name and a strong reference until it ends.
A bare ``asyncio.create_task`` result that nobody holds can be garbage collected
mid-flight (see the asyncio docs' warning), so the ruff config bans it and code
goes through :func:`create_task` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_tasks: set[asyncio.Task[Any]] = set()


def create_task(coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task
