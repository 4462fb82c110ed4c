"""One log line per request: colored on a terminal, plain when piped, JSON for machines.

The line is built by hand (no rich markup, no logging module formatting) because
it runs once per request on the hot path (the start-up banner in cli/start.py is
built the same way).
Inside a running event loop, lines are written once per loop iteration (one
write and flush for every request finished in that iteration, in order), so a
busy server does not pay a system call per request; outside a loop, at once.
Nothing secret reaches it: the path is logged without its query string's
secret parameters (see redaction).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TextIO

import orjson

_COLORS = {"tape": "\x1b[32m", "upstream": "\x1b[36m", "miss": "\x1b[33m", "error": "\x1b[31m",
           "passthrough": "\x1b[34m", "joined": "\x1b[35m"}
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"


class RequestLog:
    def __init__(self, fmt: str = "text", quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.json = fmt == "json"
        self.color = not self.json and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._pending: list[str] = []
        #: the loop whose next iteration writes the pending lines (None: nothing scheduled)
        self._scheduled: asyncio.AbstractEventLoop | None = None

    def _write(self, text: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            self._emit(text)
            return
        self._pending.append(text)
        if self._scheduled is not loop:
            # also when a loop closed before its flush ran: the next one writes it all
            self._scheduled = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the lines held for this loop iteration."""
        self._scheduled = None
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self._emit(text)

    def _emit(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not break a request
            pass

    def line(
        self,
        *,
        method: str,
        path: str,
        source: str,
        status: int,
        duration_ms: float,
        tape: str | None = None,
        note: str | None = None,
    ) -> None:
        if self.quiet:
            return
        if self.json:
            rec = {
                "ts": time.time(),
                "method": method,
                "path": path,
                "source": source,
                "status": status,
                "duration_ms": round(duration_ms, 3),
                "tape": tape,
            }
            if note:
                rec["note"] = note
            text = orjson.dumps(rec).decode() + "\n"
        elif self.color:
            c = _COLORS.get(source, "")
            st = "\x1b[31m" if status >= 400 else ""
            text = (
                f"{method} {path} {c}{source}{_RESET} {st}{status}{_RESET if st else ''} "
                f"{duration_ms:.1f}ms" + (f" {_DIM}tape={tape}{_RESET}" if tape else "")
                + (f" {_DIM}{note}{_RESET}" if note else "") + "\n"
            )
        else:
            text = (
                f"{method} {path} {source} {status} {duration_ms:.1f}ms"
                + (f" tape={tape}" if tape else "") + (f" {note}" if note else "") + "\n"
            )
        self._write(text)

    def warn(self, message: str) -> None:
        if self.json:
            text = orjson.dumps({"ts": time.time(), "level": "warning", "message": message}).decode()
        else:
            yellow, reset = ("\x1b[33m", _RESET) if self.color else ("", "")
            text = f"{yellow}warning:{reset} {message}"
        self._write(text + "\n")
