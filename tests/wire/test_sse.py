"""The SSE decoder: whole input, byte by byte, any split (Hypothesis), trailing bytes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from replaydeck.wire.sse import SSEDecoder, SSEEvent, encode_event
from tests.fakes.upstream import FIXTURES

SSE_FIXTURES = sorted(FIXTURES.glob("*.sse"))
assert SSE_FIXTURES, f"recorded wire fixtures not found in {FIXTURES}"


def decode(pieces: list[bytes]) -> list[SSEEvent]:
    d = SSEDecoder()
    out: list[SSEEvent] = []
    for p in pieces:
        out.extend(d.feed(p))
    out.extend(d.flush())
    return out


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points:
        out.append(data[prev:p])
        prev = p
    out.append(data[prev:])
    return out


def test_fields_and_rules() -> None:
    data = b"event: a\ndata: one\ndata:two\nid: 7\nretry: 10\n: comment\n\ndata: x\r\n\r\ndata: y\r\rdata: [DONE]\n\n"
    events = decode([data])
    # the last event id persists across events, as the spec's lastEventId buffer does
    assert [(e.event, e.data, e.id) for e in events] == [
        ("a", "one\ntwo", "7"), (None, "x", "7"), (None, "y", "7"), (None, "[DONE]", "7")
    ]
    assert events[0].retry == 10 and events[1].retry is None


def test_raw_bytes_cover_the_stream() -> None:
    data = b"data: a\n\nevent: e\ndata: b\n\n"
    assert b"".join(e.raw for e in decode([data])) == data


def test_last_event_without_blank_line_is_kept_on_flush() -> None:
    assert [e.data for e in decode([b"data: a\n\ndata: cut off"])] == ["a", "cut off"]


def test_cr_at_piece_boundary_then_lf() -> None:
    assert [e.data for e in decode([b"data: a\r", b"\n\r", b"\n"])] == ["a"]


def test_byte_by_byte_equals_whole() -> None:
    for path in SSE_FIXTURES:
        data = path.read_bytes()
        whole = decode([data])
        assert whole, path.name
        assert decode([data[i : i + 1] for i in range(len(data))]) == whole


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SSE_FIXTURES), st.lists(st.integers(min_value=0), max_size=40))
def test_any_split_of_any_fixture(path: Path, cuts: list[int]) -> None:
    data = path.read_bytes()
    assert decode(split_at(data, cuts)) == decode([data])


@given(st.lists(st.tuples(st.one_of(st.none(), st.text("abc._", min_size=1, max_size=8)),
                          st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=30)),
                max_size=8),
       st.lists(st.integers(min_value=0), max_size=20),
       st.sampled_from([b"\n", b"\r\n"]))
def test_encode_then_decode_round_trips(events: list[tuple[str | None, str]], cuts: list[int], nl: bytes) -> None:
    data = b"".join(encode_event(d, e, newline=nl) for e, d in events)
    got = decode(split_at(data, cuts))
    assert [(e.event, e.data) for e in got] == events
