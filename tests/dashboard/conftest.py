from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai

from tests.support import FAKE_KEYS, proxy

KEY = FAKE_KEYS[0]


@contextmanager
def dash(tmp: Path, upstream: str, **kw: Any) -> Iterator[Any]:
    """A proxy with the dashboard on, its history and tapes under ``tmp``."""
    kw.setdefault("history_path", str(tmp / ".replaydeck" / "history.db"))
    with proxy(tmp, upstream=upstream, ui=True, **kw) as px:
        yield px


def sdk(url: str, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, **kw)


def wait_for(fn: Any, timeout: float = 5.0) -> Any:
    """Poll until fn() is truthy (history rows are written by a background task)."""
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.02)
