"""One log line per request: colored on a terminal, plain when piped, JSON for machines.

The line is built by hand (no rich markup, no logging module formatting) because
it runs once per request on the hot path (the start-up banner in cli/start.py is
built the same way).
Nothing secret reaches it: the path is logged without its query string's
secret parameters (see redaction).
"""

from __future__ import annotations

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
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr must not break a request
            pass

    def warn(self, message: str) -> None:
        if self.json:
            text = orjson.dumps({"ts": time.time(), "level": "warning", "message": message}).decode()
        else:
            yellow, reset = ("\x1b[33m", _RESET) if self.color else ("", "")
            text = f"{yellow}warning:{reset} {message}"
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass
