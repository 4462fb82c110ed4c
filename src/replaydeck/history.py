"""Request history: every finished request, kept in SQLite so it survives restarts.

Strategy:
* One row per request, written when the request completes. The row holds the
  columns the list shows and filters on, the text that search looks at (prompt
  and reply) and the whole redacted detail as one JSON blob. Only redacted data
  from the event bus ever reaches this file (the proxy redacts before publishing).
* Search is SQLite FTS5 over prompt and reply text (an external-content index kept
  in step by triggers); every term is matched as a prefix, all terms must match.
* Paging is by keyset (``before`` = the ``ts``/``id`` of the last row seen), so the
  100th page costs what the first does, and 10,000 rows stay responsive.
* Retention is bounded twice: at most ``max_entries`` rows and nothing older than
  ``max_days``. Pruning runs after each write batch.
* Schema upgrades are an ordered list of migration functions, each run once and
  recorded in ``_migrations`` (the way ``llm`` migrates its logs database).
* The recorder consumes bus events on its own task and writes in a worker thread,
  batching what arrived meanwhile: the proxy never waits for the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from replaydeck import _aio
from replaydeck.events import EventBus, Subscription

# ---------------------------------------------------------------- pure helpers

#: keys whose string values are "what the user said" in the request bodies we know
_PROMPT_KEYS = frozenset({"content", "text", "prompt", "system", "input", "instructions"})


def prompt_text(body: Any, limit: int = 20000) -> str:
    """The human text of a request body (messages, system prompt, prompt), for search."""
    out: list[str] = []
    size = 0

    def walk(value: Any, key: str) -> None:
        # a string counts when its own key is a prompt key (list items inherit the key),
        # so {"content": [{"type": "text", "text": "hi"}]} gives "hi", not "text"
        nonlocal size
        if size >= limit:
            return
        if isinstance(value, str):
            if key in _PROMPT_KEYS:
                out.append(value)
                size += len(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)

    walk(body, "")
    return "\n".join(out)[:limit]


def reply_text(summary: dict[str, Any]) -> str:
    parts = [str(summary.get("text") or "")]
    for call in summary.get("tool_calls") or []:
        args = call.get("arguments")
        parts.append(f"{call.get('name', '')} {args if isinstance(args, str) else orjson.dumps(args).decode()}")
    return "\n".join(p for p in parts if p)


def tokens(summary: dict[str, Any]) -> tuple[int | None, int | None]:
    """(input, output) tokens from any provider's usage object."""
    usage = summary.get("usage")
    if not isinstance(usage, dict):
        return None, None

    def pick(*names: str) -> int | None:
        for n in names:
            v = usage.get(n)
            if isinstance(v, int) and not isinstance(v, bool):
                return v
        return None

    return (pick("prompt_tokens", "input_tokens", "prompt_token_count", "prompt_eval_count"),
            pick("completion_tokens", "output_tokens", "candidates_token_count", "eval_count"))


def state_of(entry: dict[str, Any]) -> str:
    if "status" not in entry:
        return "pending"
    status = entry.get("status") or 0
    summary = entry.get("summary") or {}
    if status == 499 and not entry.get("error") and summary.get("stop_reason"):
        # SDKs close the connection as soon as they read the end of a stream ([DONE]),
        # sometimes before the upstream's own end reaches the proxy: the client got the
        # whole reply (the stop reason was already in it), so this is not an abort
        return "complete"
    if entry.get("error") or status >= 400 or status == 0 or (entry.get("summary") or {}).get("error"):
        return "error"
    return "complete"


def fts_query(text: str) -> str:
    """User text -> an FTS5 query: every term as a quoted prefix, all required."""
    terms = [t.replace('"', '""') for t in text.split() if t.strip()]
    return " ".join(f'"{t}"*' for t in terms)


def merge(started: dict[str, Any] | None, completed: dict[str, Any]) -> dict[str, Any]:
    """One history entry from a request's started and completed events."""
    entry: dict[str, Any] = dict(started or {})
    entry.update(completed)
    entry.pop("type", None)
    entry["ts"] = (started or completed).get("ts", completed.get("ts"))
    entry["ended"] = completed.get("ts")
    entry["state"] = state_of(entry)
    return entry


def row_summary(entry: dict[str, Any]) -> dict[str, Any]:
    """The small part of an entry the list shows (no bodies, no chunks)."""
    summary = entry.get("summary") or {}
    tin, tout = tokens(summary)
    return {
        "id": entry.get("id"), "ts": entry.get("ts"), "state": entry.get("state") or state_of(entry),
        "source": entry.get("source"), "provider": entry.get("provider"),
        "method": entry.get("method"), "route": entry.get("route", ""), "path": entry.get("path"),
        "model": entry.get("model") or summary.get("model"), "status": entry.get("status"),
        "duration_ms": entry.get("duration_ms"), "ttfb_ms": entry.get("ttfb_ms"),
        "tokens_in": tin, "tokens_out": tout, "stream": entry.get("stream"),
        "tools": [c.get("name", "") for c in summary.get("tool_calls") or []],
        "text": str(summary.get("text") or "")[:300], "tape": entry.get("tape"),
        "error": entry.get("error") or (summary.get("error") or {}).get("message"),
    }


@dataclass(frozen=True, slots=True)
class Filters:
    q: str = ""
    model: str = ""
    provider: str = ""
    source: str = ""
    status: str = ""  # "ok" | "error" | a number such as "404"
    tools: bool | None = None


# ---------------------------------------------------------------- schema

def _m001_initial(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE requests (
            id TEXT PRIMARY KEY, ts REAL NOT NULL, state TEXT, source TEXT, provider TEXT,
            method TEXT, path TEXT, model TEXT, status INTEGER, duration_ms REAL, ttfb_ms REAL,
            tokens_in INTEGER, tokens_out INTEGER, has_tools INTEGER NOT NULL DEFAULT 0,
            tape TEXT, key TEXT, prompt TEXT NOT NULL DEFAULT '', reply TEXT NOT NULL DEFAULT '',
            row BLOB NOT NULL, detail BLOB NOT NULL
        );
        CREATE INDEX requests_ts ON requests(ts DESC, id DESC);
        CREATE VIRTUAL TABLE requests_fts USING fts5(
            prompt, reply, content='requests', content_rowid='rowid');
        CREATE TRIGGER requests_ai AFTER INSERT ON requests BEGIN
            INSERT INTO requests_fts(rowid, prompt, reply) VALUES (new.rowid, new.prompt, new.reply);
        END;
        CREATE TRIGGER requests_ad AFTER DELETE ON requests BEGIN
            INSERT INTO requests_fts(requests_fts, rowid, prompt, reply)
            VALUES ('delete', old.rowid, old.prompt, old.reply);
        END;
        """
    )


def _m002_filter_indexes(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE INDEX requests_model ON requests(model, ts DESC);
        CREATE INDEX requests_key ON requests(key);
        """
    )


#: applied in order, each once; append new ones, never edit an applied one
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m001_initial, _m002_filter_indexes]


def migrate(db: sqlite3.Connection) -> list[str]:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied REAL)")
    done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
    applied = []
    for fn in MIGRATIONS:
        name = fn.__name__.lstrip("_")
        if name in done:
            continue
        with db:
            fn(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
        applied.append(name)
    return applied


# ---------------------------------------------------------------- store

class History:
    """The SQLite history file. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path, max_entries: int = 10000, max_days: float = 30.0) -> None:
        self.path = Path(path)
        self.max_entries = max_entries
        self.max_days = max_days
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        with self.lock:
            migrate(self.db)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    def add(self, entries: Iterable[dict[str, Any]]) -> None:
        rows = []
        for e in entries:
            row = row_summary(e)
            rows.append((
                e["id"], e.get("ts") or time.time(), row["state"], row["source"], row["provider"],
                row["method"], row["path"], row["model"], row["status"], row["duration_ms"],
                row["ttfb_ms"], row["tokens_in"], row["tokens_out"], 1 if row["tools"] else 0,
                row["tape"], e.get("key"), prompt_text(e.get("request_body")),
                reply_text(e.get("summary") or {}), orjson.dumps(row), orjson.dumps(e),
            ))
        if not rows:
            return
        with self.lock, self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO requests (id, ts, state, source, provider, method, path,"
                " model, status, duration_ms, ttfb_ms, tokens_in, tokens_out, has_tools, tape, key,"
                " prompt, reply, row, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            self._prune()

    def _prune(self) -> None:
        cutoff = time.time() - self.max_days * 86400
        self.db.execute("DELETE FROM requests WHERE ts < ?", (cutoff,))
        self.db.execute(
            "DELETE FROM requests WHERE rowid IN (SELECT rowid FROM requests"
            " ORDER BY ts DESC, id DESC LIMIT -1 OFFSET ?)", (self.max_entries,))

    def get(self, rid: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT detail FROM requests WHERE id = ?", (rid,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def query(self, f: Filters, before: tuple[float, str] | None = None,
              limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """(rows newest first, total matching). ``before`` continues after a row."""
        where, args = self._where(f)
        with self.lock:
            total = self.db.execute(f"SELECT count(*) FROM requests r {where}", args).fetchone()[0]
            if before is not None:
                where += (" AND " if where else "WHERE ") + "(r.ts < ? OR (r.ts = ? AND r.id < ?))"
                args = [*args, before[0], before[0], before[1]]
            rows = self.db.execute(
                f"SELECT r.row FROM requests r {where} ORDER BY r.ts DESC, r.id DESC LIMIT ?",
                [*args, limit],
            ).fetchall()
        return [orjson.loads(r[0]) for r in rows], int(total)

    def _where(self, f: Filters) -> tuple[str, list[Any]]:
        conds: list[str] = []
        args: list[Any] = []
        if f.q.strip():
            conds.append("r.rowid IN (SELECT rowid FROM requests_fts WHERE requests_fts MATCH ?)")
            args.append(fts_query(f.q))
        for col in ("model", "provider", "source"):
            value = getattr(f, col)
            if value:
                conds.append(f"r.{col} = ?")
                args.append(value)
        if f.status == "ok":
            conds.append("r.state = 'complete'")
        elif f.status == "error":
            conds.append("r.state = 'error'")
        elif f.status.isdigit():
            conds.append("r.status = ?")
            args.append(int(f.status))
        if f.tools is not None:
            conds.append("r.has_tools = ?")
            args.append(1 if f.tools else 0)
        return ("WHERE " + " AND ".join(conds)) if conds else "", args

    def facets(self) -> dict[str, list[str]]:
        """Distinct values for the filter menus."""
        out: dict[str, list[str]] = {}
        with self.lock:
            for col in ("model", "provider", "source"):
                out[col] = [r[0] for r in self.db.execute(
                    f"SELECT DISTINCT {col} FROM requests WHERE {col} IS NOT NULL ORDER BY 1 LIMIT 200")]
        return out

    def series(self, since: float, limit: int = 2000) -> list[dict[str, Any]]:
        """Per-request points for the session chart, oldest first."""
        with self.lock:
            rows = self.db.execute(
                "SELECT id, ts, duration_ms, ttfb_ms, tokens_out, state, source FROM requests"
                " WHERE ts >= ? ORDER BY ts DESC LIMIT ?", (since, limit)).fetchall()
        return [{"id": r[0], "ts": r[1], "duration_ms": r[2], "ttfb_ms": r[3], "tokens_out": r[4],
                 "state": r[5], "source": r[6]} for r in reversed(rows)]

    def clear(self) -> int:
        with self.lock, self.db:
            n = self.db.execute("DELETE FROM requests").rowcount
        return int(n)


# ---------------------------------------------------------------- recorder

class HistoryRecorder:
    """Bus subscriber that turns started/completed events into history rows.

    Entries completed but not yet written stay readable through ``lookup`` so a
    browser that asks for a detail right after the completed event finds it."""

    KINDS = frozenset({"request.started", "request.completed"})
    MAX_PENDING = 2000

    def __init__(self, history: History | None, bus: EventBus, session: str) -> None:
        self.history = history
        self.bus = bus
        self.session = session
        self.pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.unflushed: dict[str, dict[str, Any]] = {}
        self.sub: Subscription | None = None
        self.task: asyncio.Task[None] | None = None

    def hid(self, rid: str) -> str:
        return f"{self.session}-{rid}"

    async def start(self) -> None:
        if self.history is None or self.task is not None:
            return
        self.sub = self.bus.subscribe(5000, kinds=self.KINDS)
        self.task = _aio.create_task(self._run(self.sub), name="replaydeck-history")

    async def stop(self) -> None:
        if self.sub is not None:
            self.sub.close()
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None
        if self.sub is not None:  # write what is still queued
            batch = []
            while not self.sub.queue.empty():
                batch.append(self.sub.queue.get_nowait())
            self._absorb(batch)
            self._flush_sync()
            self.sub = None
        if self.history is not None:
            self.history.close()

    def lookup(self, hid: str) -> dict[str, Any] | None:
        if hid in self.unflushed:
            return self.unflushed[hid]
        started = self.pending.get(hid)
        if started is not None:
            entry = dict(started)
            entry.pop("type", None)
            entry["state"] = "pending"
            return entry
        return None

    def inflight(self) -> list[dict[str, Any]]:
        return [row_summary({**e, "state": "pending"}) for e in self.pending.values()]

    async def _run(self, sub: Subscription) -> None:
        while True:
            batch = [await sub.get()]
            while not sub.queue.empty():
                batch.append(sub.queue.get_nowait())
            self._absorb(batch)
            try:
                await asyncio.to_thread(self._flush_sync)
            except Exception:  # a full disk or a bad row must not stop the history: drop it
                self.unflushed.clear()

    def _absorb(self, batch: list[dict[str, Any]]) -> None:
        for ev in batch:
            if ev.get("type") == "request.started":
                hid = self.hid(ev["id"])
                self.pending[hid] = {**ev, "id": hid}
                while len(self.pending) > self.MAX_PENDING:
                    self.pending.popitem(last=False)
            elif ev.get("type") == "request.completed":
                hid = self.hid(ev["id"])
                self.unflushed[hid] = merge(self.pending.pop(hid, None), {**ev, "id": hid})

    def _flush_sync(self) -> None:
        if not self.unflushed or self.history is None:
            return
        entries = list(self.unflushed.values())
        self.history.add(entries)
        for e in entries:
            if self.unflushed.get(e["id"]) is e:
                del self.unflushed[e["id"]]
