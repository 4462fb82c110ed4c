"""Tape usage (hit count, last use), kept beside the tapes in ``.usage.json``.

Rule: a replay never rewrites a tape file (tapes live in git; a hit must not
produce a diff). Hits are counted in memory on the hot path (one dict update)
and merged into ``<tapes-dir>/.usage.json`` by ``flush()``, which the server
calls every few seconds when something changed and once at shutdown. The
merge re-reads the file first, so two processes sharing a directory add up
rather than overwrite each other (last writer wins only on the same instant).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson


@dataclass(frozen=True, slots=True)
class Usage:
    hits: int
    last_used: float  # unix seconds

    @property
    def last_used_iso(self) -> str:
        return datetime.fromtimestamp(self.last_used, UTC).isoformat(timespec="seconds").replace(
            "+00:00", "Z"
        )


class UsageLog:
    FILE = ".usage.json"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._pending: dict[str, list[float]] = {}  # key -> [hits, last_used]

    @property
    def path(self) -> Path:
        return self.root / self.FILE

    @property
    def dirty(self) -> bool:
        return bool(self._pending)

    def hit(self, key: str, when: float | None = None) -> None:
        entry = self._pending.get(key)
        now = time.time() if when is None else when
        if entry is None:
            self._pending[key] = [1, now]
        else:
            entry[0] += 1
            entry[1] = now

    def _read(self) -> dict[str, list[float]]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}
        if not isinstance(data, dict):
            return {}
        out: dict[str, list[float]] = {}
        for key, value in data.items():
            if isinstance(value, dict):
                out[key] = [float(value.get("hits", 0)), float(value.get("last_used", 0))]
        return out

    def all(self) -> dict[str, Usage]:
        data = self._read()
        for key, (hits, last) in self._pending.items():
            base = data.get(key, [0.0, 0.0])
            data[key] = [base[0] + hits, max(base[1], last)]
        return {k: Usage(int(v[0]), v[1]) for k, v in data.items()}

    def get(self, key: str) -> Usage | None:
        return self.all().get(key)

    def forget(self, keys: set[str]) -> None:
        """Drop usage of deleted tapes."""
        for key in keys:
            self._pending.pop(key, None)
        data = self._read()
        if any(k in data for k in keys):
            self._write({k: v for k, v in data.items() if k not in keys})

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        data = self._read()
        for key, (hits, last) in pending.items():
            base = data.get(key, [0.0, 0.0])
            data[key] = [base[0] + hits, max(base[1], last)]
        self._write(data)

    def _write(self, data: dict[str, list[float]]) -> None:
        if not self.root.is_dir():
            return
        body = orjson.dumps(
            {k: {"hits": int(v[0]), "last_used": round(v[1], 3)} for k, v in sorted(data.items())},
            option=orjson.OPT_INDENT_2,
        )
        fd, tmp = tempfile.mkstemp(prefix=".usage.", suffix=".tmp", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
