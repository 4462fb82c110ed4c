"""What is in a tapes directory: one row per tape file, filters, selection by id, pruning.

Rules:
1. A row is one file (``<key>.json``, or ``<key>-<n>.json`` for the n-th recording
   of a sequence); a file that cannot be read is still a row, with its error, so
   ``ls`` shows it and ``rm`` can remove it.
2. Usage (hits, last used) comes from the store's usage log (``.usage.json``),
   never from the tape files, which a hit does not rewrite.
3. Filters are ``FIELD=GLOB`` (case-insensitive shell patterns); every filter must
   match. ``FIELD!=GLOB`` negates one.
4. ``prune --unused-since DATE`` removes tapes whose last use (a replay hit, or
   the recording itself when never replayed) is before DATE: a tape recorded
   after DATE was used since then by the request that recorded it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from replaydeck.errors import ConfigError, TapeError
from replaydeck.models import Tape
from replaydeck.storage.filesystem import TapeStore

FILTER_FIELDS = ("id", "key", "provider", "model", "endpoint", "method", "route", "status",
                 "stream")


@dataclass(frozen=True, slots=True)
class Row:
    name: str  # file stem: the key, or key-n in a sequence
    tape: Tape | None
    error: str | None
    size: int
    hits: int
    last_used: float | None  # unix seconds of the last replay, None = never replayed

    @property
    def id(self) -> str:
        return self.tape.id if self.tape else "?"

    @property
    def recorded(self) -> datetime | None:
        return parse_timestamp(self.tape.recorded_at) if self.tape else None

    @property
    def last_use(self) -> datetime | None:
        """The later of the last replay and the recording."""
        used = datetime.fromtimestamp(self.last_used, UTC) if self.last_used else None
        recorded = self.recorded
        if used and recorded:
            return max(used, recorded)
        return used or recorded

    def fields(self) -> dict[str, str]:
        t = self.tape
        return {
            "id": self.id,
            "key": self.name,
            "provider": t.provider if t else "",
            "model": (t.model or "") if t else "",
            "endpoint": (t.route + t.path) if t else "",
            "method": t.method if t else "",
            "route": t.route if t else "",
            "status": str(t.status) if t else "",
            "stream": ("" if t.stream is None else str(t.stream).lower()) if t else "",
        }

    def to_json(self) -> dict[str, Any]:
        t = self.tape
        return {
            "id": self.id,
            "key": self.name,
            "provider": t.provider if t else None,
            "model": t.model if t else None,
            "method": t.method if t else None,
            "endpoint": (t.route + t.path) if t else None,
            "status": t.status if t else None,
            "recorded_at": t.recorded_at if t else None,
            "size": self.size,
            "hits": self.hits,
            "last_used": _iso(self.last_used) if self.last_used else None,
            "error": self.error,
        }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_RELATIVE = re.compile(r"^(\d+)\s*([dhw])$")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``2026-01-31``, an ISO date-time, or an age such as ``30d``, ``12h``, ``2w``."""
    text = text.strip()
    m = _RELATIVE.match(text.lower())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"d": timedelta(days=n), "h": timedelta(hours=n), "w": timedelta(weeks=n)}[unit]
        return (now or datetime.now(UTC)) - delta
    value = parse_timestamp(text)
    if value is None:
        raise ConfigError(
            f"{text!r} is not a date: use YYYY-MM-DD, an ISO date-time, or an age like 30d"
        )
    return value


def scan(store: TapeStore) -> list[Row]:
    usage = store.usage.all()
    rows = []
    for name in sorted(store.keys()):
        try:
            size = store.path(name).stat().st_size
        except FileNotFoundError:
            continue
        tape: Tape | None = None
        error = None
        try:
            tape = store.get(name)
        except TapeError as exc:
            error = str(exc)
        use = usage.get(name)
        rows.append(Row(name, tape, error, size, use.hits if use else 0,
                        use.last_used if use and use.last_used else None))
    rows.sort(key=lambda r: (r.tape.recorded_at if r.tape else "", r.name), reverse=True)
    return rows


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    pattern: str
    negate: bool

    def __call__(self, row: Row) -> bool:
        value = row.fields()[self.field].lower()
        hit = fnmatch.fnmatchcase(value, self.pattern.lower())
        return hit != self.negate


def parse_filters(items: Iterable[str]) -> list[Filter]:
    out = []
    for item in items:
        negate = "!=" in item
        name, sep, pattern = item.partition("!=" if negate else "=")
        name = name.strip().lower()
        if not sep or name not in FILTER_FIELDS:
            raise ConfigError(
                f"filter {item!r} must look like FIELD=PATTERN (or FIELD!=PATTERN) with FIELD "
                f"one of {', '.join(FILTER_FIELDS)}; PATTERN may use * and ?"
            )
        out.append(Filter(name, pattern.strip(), negate))
    return out


def select(rows: Sequence[Row], filters: Sequence[Filter]) -> list[Row]:
    return [r for r in rows if all(f(r) for f in filters)]


def find(rows: Sequence[Row], ident: str) -> list[Row]:
    """Rows named by a tape id, a file name or a key prefix (at least 4 characters)."""
    ident = ident.strip().removesuffix(".json")
    exact = [r for r in rows if r.id == ident or r.name == ident]
    if exact:
        return exact
    if len(ident) >= 4:
        return [r for r in rows if r.name.startswith(ident)]
    return []


def unused_since(rows: Sequence[Row], since: datetime) -> list[Row]:
    out = []
    for row in rows:
        if row.tape is None:
            continue  # an unreadable file is reported by ls/verify, never pruned silently
        last = row.last_use
        if last is None or last < since:
            out.append(row)
    return out
