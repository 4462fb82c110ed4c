"""Tape files: round trip, binary chunks, legacy layouts, versions, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from replaydeck.errors import TapeCorrupt, TapeVersionError
from replaydeck.models import Chunk, Tape
from replaydeck.storage import TapeStore, dump_tape, load_tape


def make(**kw: object) -> Tape:
    base: dict[str, object] = dict(
        key="k" * 64, id="abcd1234", recorded_at="2026-11-22T00:00:00.000Z", provider="generic",
        method="POST", route="", path="/x", query="a=1", request_headers={"content-type": "application/json"},
        request_body={"a": 1}, stream=False, status=200, response_headers={"content-type": "application/octet-stream"},
        chunks=(Chunk(b"text \xc3\xa9", 12.5), Chunk(b"\xff\xfe\x00", 1.0)),
    )
    base.update(kw)
    return Tape(**base)  # type: ignore[arg-type]


def test_round_trip_with_binary_chunks() -> None:
    tape = make()
    raw = dump_tape(tape)
    data = json.loads(raw)
    assert data["version"] == 1 and data["response"]["chunks"][0] == {"c": "text é", "d": 12.5}
    assert "$base64" in data["response"]["chunks"][1]["c"]
    back = load_tape(raw)
    assert back.chunks == tape.chunks and back.request_body == {"a": 1} and back.key == tape.key


def test_newer_version_refused_and_garbage_reported() -> None:
    data = json.loads(dump_tape(make()))
    data["version"] = 99
    with pytest.raises(TapeVersionError, match="newer"):
        load_tape(json.dumps(data).encode(), path="/t/x.json")
    for bad in (b"{", b"[]", b'{"version": 1}', b'{"version": "one"}'):
        with pytest.raises(TapeCorrupt):
            load_tape(bad, path="/t/x.json")


def test_playingpack_05_cache_layout() -> None:
    raw = json.dumps({"hash": "h" * 64, "timestamp": "2026-01-20T00:00:00Z",
                      "request": {"model": "gpt-4o", "messages": []},
                      "response": {"status": 200, "chunks": [{"data": '{"choices":[]}', "delay": 0}]}}).encode()
    tape = load_tape(raw)
    assert tape.legacy == "playingpack-0.5" and tape.body == b'{"choices":[]}'
    assert tape.content_type == "application/json"


def test_store_atomic_write_cache_and_delete(tmp_path: Path) -> None:
    store = TapeStore(tmp_path / "t")
    tape = make()
    store.put(tape)
    # no temp files left; they are made in .tmp/, so creating one never holds the
    # tapes directory's lock while a lookup walks it
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == [".tmp", f"{tape.key}.json"]
    assert list((tmp_path / "t" / ".tmp").iterdir()) == []
    first = store.get_entry(tape.key)
    assert first is not None and store.get_entry(tape.key) is first  # cached
    store.put(make(id="changed", chunks=(Chunk(b"new", 0),)))
    again = store.get(tape.key)
    assert again is not None and again.id == "changed"
    assert store.delete(tape.key) and store.get(tape.key) is None and not store.delete(tape.key)


def test_usage_counts_without_touching_tapes(tmp_path: Path) -> None:
    store = TapeStore(tmp_path)
    tape = make()
    path = store.put(tape)
    before = path.stat().st_mtime_ns
    store.usage.hit(tape.key, when=100.0)
    store.usage.hit(tape.key, when=200.0)
    store.usage.flush()
    other = TapeStore(tmp_path)  # another process reading the same directory
    other.usage.hit(tape.key, when=150.0)
    other.usage.flush()
    u = TapeStore(tmp_path).usage.get(tape.key)
    assert u is not None and (u.hits, u.last_used) == (3, 200.0)
    assert path.stat().st_mtime_ns == before
    assert list(store.keys()) == [tape.key]  # .usage.json is not a tape


def test_an_epoch_shares_one_check_and_the_next_epoch_checks_again(tmp_path: Path) -> None:
    store = TapeStore(tmp_path)
    tape = make()
    path = store.put(tape)
    first = store.get_entry(tape.key, epoch=7)
    assert first is not None
    path.unlink()
    # same epoch (requests handled together): the check already made stands
    assert store.get_entry(tape.key, epoch=7) is first
    # a later epoch, or no epoch at all, looks at the file again
    assert store.get_entry(tape.key, epoch=8) is None
    store.put(tape)
    assert store.get_entry(tape.key, epoch=8) is not None
    path.unlink()
    assert store.get_entry(tape.key) is None
