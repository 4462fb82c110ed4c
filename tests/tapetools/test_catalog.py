"""Pure parts of the catalog: dates, filters, selection by id, prune rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from replaydeck.errors import ConfigError
from replaydeck.models import Tape
from replaydeck.tapetools.catalog import Row, find, parse_filters, parse_since, select, unused_since

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def row(name: str, model: str, recorded: str, last_used: float | None = None) -> Row:
    tape = Tape(key=name, id=name[:8], recorded_at=recorded, provider="openai-chat", method="POST",
                route="", path="/v1/chat/completions", query="", request_headers={},
                request_body=None, stream=None, status=200, response_headers={}, chunks=(),
                model=model)
    return Row(name, tape, None, 10, 1 if last_used else 0, last_used)


def test_parse_since() -> None:
    assert parse_since("2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_since("2026-01-31T10:00:00Z") == datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert parse_since("30d", NOW) == datetime(2026, 5, 2, tzinfo=UTC)
    assert parse_since("2w", NOW) == datetime(2026, 5, 18, tzinfo=UTC)
    assert parse_since("12h", NOW) == datetime(2026, 5, 31, 12, tzinfo=UTC)
    with pytest.raises(ConfigError, match="not a date"):
        parse_since("yesterday")


def test_filters_glob_case_insensitive_and_negated() -> None:
    rows = [row("a" * 64, "gpt-4o", "2026-01-01T00:00:00Z"), row("b" * 64, "GPT-3.5", "2026-01-01T00:00:00Z")]
    assert [r.name[0] for r in select(rows, parse_filters(["model=gpt-4*"]))] == ["a"]
    assert [r.name[0] for r in select(rows, parse_filters(["model!=gpt-4*"]))] == ["b"]
    assert select(rows, parse_filters(["model=gpt*", "endpoint=/v1/*"])) == rows
    with pytest.raises(ConfigError, match="FIELD=PATTERN"):
        parse_filters(["model"])
    with pytest.raises(ConfigError, match="FIELD=PATTERN"):
        parse_filters(["size=1"])


def test_find_by_id_name_or_prefix() -> None:
    rows = [row("abcd" + "0" * 60, "m", ""), row("abce" + "0" * 60, "m", "")]
    assert find(rows, rows[0].id) == [rows[0]]
    assert find(rows, rows[1].name + ".json") == [rows[1]]
    assert find(rows, "abc") == []  # too short to be a prefix
    assert len(find(rows, "abcd")) == 1


def test_unused_since_counts_recording_and_hits() -> None:
    old_unused = row("a" * 64, "m", "2025-01-01T00:00:00Z")
    old_but_hit = row("b" * 64, "m", "2025-01-01T00:00:00Z", last_used=NOW.timestamp())
    new = row("c" * 64, "m", "2026-05-30T00:00:00Z")
    broken = Row("d" * 64, None, "corrupt", 3, 0, None)
    assert unused_since([old_unused, old_but_hit, new, broken],
                        datetime(2026, 1, 1, tzinfo=UTC)) == [old_unused]
