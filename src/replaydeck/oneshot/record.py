"""``replaydeck record``: the proxy's own machinery, pointed at one URL, writing to one file.

Strategy: a one-shot recorder is a ``ProxyApp`` with three things changed, so
relaying (live, chunk by chunk), timing, redaction and tape building are the
proxy's own and cannot drift from it:

1. its store is a ``FileSink``: it never has a tape (every request is forwarded
   and recorded) and writes each recording to FILE, or to ``FILE-0.json``,
   ``FILE-1.json``, ... with ``--increment`` (the suffix goes before the
   extension, as asgi-replay does);
2. its router sends every path to URL (no built-in ``/anthropic`` etc. routes,
   no control endpoints): everything is proxied;
3. errors are recorded too (``record_errors``), as asgi-replay records whatever
   came back. A response cut short is not written: a broken file replays badly.

The file is a full replaydeck tape with its key, so it can be dropped into a
tapes directory as it is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from replaydeck.models import Tape
from replaydeck.proxy.app import ProxyApp
from replaydeck.proxy.upstream import Router
from replaydeck.settings import Settings
from replaydeck.storage.filesystem import Entry, TapeStore, write_atomic
from replaydeck.storage.format import dump_tape


def increment_path(target: Path, index: int) -> Path:
    """``out.json`` -> ``out-3.json``; ``out`` -> ``out-3`` (suffix before the extension)."""
    return target.with_name(f"{target.stem}-{index}{target.suffix}")


class FileSink(TapeStore):
    """A store that holds nothing and writes every recording to one file (or a series)."""

    def __init__(self, target: Path, increment: bool, announce: Callable[[str], None]) -> None:
        super().__init__(target.parent, cache_size=0)
        self.target = target
        self.increment = increment
        self.announce = announce
        self.written = 0
        self._lock = threading.Lock()  # put() runs in worker threads

    def get_entry(self, key: str, epoch: int | None = None) -> Entry | None:
        return None

    def sequence_length(self, key: str) -> int:
        return 0

    def put(self, tape: Tape) -> Path:
        data = dump_tape(tape)
        with self._lock:
            path = increment_path(self.target, self.written) if self.increment else self.target
            self.written += 1
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
        self.announce(f"{tape.method} {tape.route}{tape.path} written to {path}")
        return path


def record_app(settings: Settings, url: str, target: Path, increment: bool,
               announce: Callable[[str], None]) -> ProxyApp:
    """The recording ASGI app. ``settings`` supplies redaction and key rules."""
    app = ProxyApp(settings, store=FileSink(target, increment, announce))
    app.router = Router(url, {})
    return app
