"""The SQLite history: migrations, search, filters, keyset paging, retention."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from replaydeck.history import (
    MIGRATIONS,
    Filters,
    History,
    fts_query,
    merge,
    migrate,
    prompt_text,
    row_summary,
)

T0 = time.time() - 86400


def entry(i: int, text: str = "", *, model: str = "gpt-test", status: int = 200,
          tools: bool = False, ts: float | None = None, source: str = "upstream") -> dict:
    started = {"type": "request.started", "id": f"s-{i}", "ts": ts if ts is not None else T0 + i,
               "method": "POST", "route": "", "path": "/v1/chat/completions", "provider": "openai-chat",
               "model": model, "stream": True, "key": f"k{i}",
               "request_body": {"model": model, "messages": [{"role": "user", "content": f"prompt {i} {text}"}]}}
    summary = {"text": f"reply {i}", "usage": {"prompt_tokens": 3, "completion_tokens": 4},
               "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": {"city": "Oslo"}}] if tools else []}
    done = {"type": "request.completed", "id": f"s-{i}", "ts": T0 + 1 + i, "source": source,
            "status": status, "duration_ms": 12.5, "ttfb_ms": 3.0, "summary": summary, "chunks": []}
    return merge(started, done)


def test_migrations_run_once_and_are_recorded(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "h.db")
    assert migrate(db) == [fn.__name__.lstrip("_") for fn in MIGRATIONS]
    assert migrate(db) == []  # a second start applies nothing
    names = {r[0] for r in db.execute("SELECT name FROM _migrations")}
    assert names == {fn.__name__.lstrip("_") for fn in MIGRATIONS}


def test_entries_survive_reopening_and_search_finds_prompt_and_reply(tmp_path: Path) -> None:
    h = History(tmp_path / "h.db", max_entries=100, max_days=10_000)
    h.add([entry(1, "lighthouse keeper"), entry(2, "tides"), entry(3, tools=True)])
    h.close()
    h = History(tmp_path / "h.db", max_entries=100, max_days=10_000)
    rows, total = h.query(Filters(q="lightho"))  # prefix match
    assert total == 1 and rows[0]["id"] == "s-1"
    assert h.query(Filters(q="reply 2"))[0][0]["id"] == "s-2"  # reply text is searched too
    assert h.query(Filters(q="Oslo"))[0][0]["id"] == "s-3"  # and tool call arguments
    assert h.query(Filters(q='"quoted'))[1] == 0  # user quotes cannot break the FTS syntax
    full = h.get("s-1")
    assert full is not None and full["request_body"]["messages"][0]["content"].endswith("keeper")


def test_filters(tmp_path: Path) -> None:
    h = History(tmp_path / "h.db", max_entries=100, max_days=10_000)
    h.add([entry(1, model="a"), entry(2, model="b", status=500), entry(3, model="b", tools=True),
           entry(4, model="b", source="tape")])
    ids = lambda f: [r["id"] for r in h.query(f)[0]]  # noqa: E731
    assert ids(Filters(model="b")) == ["s-4", "s-3", "s-2"]
    assert ids(Filters(status="error")) == ["s-2"]
    assert ids(Filters(status="500")) == ["s-2"]
    assert ids(Filters(tools=True)) == ["s-3"]
    assert ids(Filters(source="tape")) == ["s-4"]
    assert ids(Filters(model="b", tools=False, status="ok")) == ["s-4"]
    assert h.facets()["model"] == ["a", "b"]


def test_keyset_paging_walks_every_row_once(tmp_path: Path) -> None:
    h = History(tmp_path / "h.db", max_entries=10_000, max_days=10_000)
    h.add([entry(i, ts=T0 + (i // 3)) for i in range(250)])  # equal timestamps too
    seen: list[str] = []
    before = None
    while True:
        rows, total = h.query(Filters(), before, limit=40)
        seen += [r["id"] for r in rows]
        if len(rows) < 40:
            break
        before = (rows[-1]["ts"], rows[-1]["id"])
    assert total == 250 and len(seen) == 250 and len(set(seen)) == 250


def test_ten_thousand_entries_stay_fast_and_retention_bounds_them(tmp_path: Path) -> None:
    h = History(tmp_path / "h.db", max_entries=10_000, max_days=10_000)
    for start in range(0, 10_500, 500):
        h.add([entry(i, "needle" if i == 7777 else "") for i in range(start, start + 500)])
    assert h.query(Filters())[1] == 10_000  # the oldest 500 were dropped
    assert h.get("s-0") is None and h.get("s-10499") is not None
    t0 = time.perf_counter()
    h.query(Filters(), limit=200)
    rows, total = h.query(Filters(q="needle"))
    h.query(Filters(model="gpt-test"), (T0 + 5000.0, "s-4000"), limit=200)
    assert rows[0]["id"] == "s-7777" and total == 1
    # generous bound (a loaded CI machine): a page or a search is not a table scan of blobs
    assert time.perf_counter() - t0 < 2.0


def test_retention_by_age(tmp_path: Path) -> None:
    h = History(tmp_path / "h.db", max_entries=100, max_days=1)
    now = time.time()
    h.add([entry(1, ts=now - 3 * 86400), entry(2, ts=now)])
    assert [r["id"] for r in h.query(Filters())[0]] == ["s-2"]


def test_pure_helpers() -> None:
    body = {"model": "m", "system": "be brief", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "image_url", "image_url": {"url": "x"}}]}]}
    assert prompt_text(body) == "be brief\nhello"
    assert fts_query('a "b') == '"a"* """b"*'
    row = row_summary(entry(1, tools=True))
    assert row["tools"] == ["get_weather"] and row["tokens_in"] == 3 and row["tokens_out"] == 4
    assert row["state"] == "complete"
    assert row_summary(entry(2, status=429))["state"] == "error"
    closed = entry(3, status=499)
    assert row_summary(closed)["state"] == "error"  # a client that left mid-reply
    closed["summary"]["stop_reason"] = "stop"
    del closed["state"]
    assert row_summary(closed)["state"] == "complete"  # left after the reply's end
