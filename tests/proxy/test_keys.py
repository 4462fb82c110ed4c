"""The key memo: a remembered key is exactly the key computed afresh, and the memo stays bounded."""

from __future__ import annotations

import io

import anyio
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from replaydeck.logs import RequestLog
from replaydeck.providers import default_registry
from replaydeck.proxy.keys import MAX_BODY, Keyer, Memo
from replaydeck.proxy.upstream import Router

ANTHROPIC = ("anthropic-version",)


def keyer(max_entries: int = 4096) -> Keyer:
    router = Router("http://127.0.0.1:9", {"/anthropic": "http://127.0.0.1:8"})
    return Keyer(default_registry(), router, ("user",), ANTHROPIC, frozenset({"key"}),
                 max_entries=max_entries)


REFERENCE = keyer()


def fresh_key(method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]],
              body: bytes) -> str:
    """The key computed without the memo (``build`` never reads or fills it)."""
    k = REFERENCE
    route, rest = k.router.match(path)
    text = tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in headers)
    return k.build(method, route, rest, query.decode("latin-1"), text, body).key


bodies = st.one_of(
    st.builds(lambda m, t, u: orjson.dumps({"model": m, "messages": [{"role": "user", "content": t}],
                                            "user": u}),
              st.sampled_from(["a", "b"]), st.text(max_size=5), st.text(max_size=3)),
    st.binary(max_size=20),
)
requests = st.tuples(
    st.sampled_from(["POST", "GET"]),
    st.sampled_from(["/v1/chat/completions", "/anthropic/v1/messages", "/v1/embeddings"]),
    st.sampled_from([b"", b"a=1", b"key=secret&a=1"]),
    st.lists(st.tuples(st.sampled_from([b"anthropic-version", b"x-other", b"host"]),
                       st.sampled_from([b"1", b"2"])), max_size=3),
    bodies,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(requests, min_size=1, max_size=12))
def test_memoized_keys_equal_fresh_keys(seq: list[tuple[str, str, bytes, list[tuple[bytes, bytes]], bytes]]) -> None:
    # one long-lived keyer sees the requests in order, repeats included, with a tiny
    # memo so eviction happens too; every key must be the one computed from scratch
    k = keyer(max_entries=3)
    for method, path, query, headers, body in seq + seq:
        _, req = k.from_scope(method, path, query, headers, body)
        assert req.key == fresh_key(method, path, query, headers, body)
        assert req.record.body == body
        assert req.record.headers == tuple((n.decode(), v.decode()) for n, v in headers)


def test_key_header_and_ignored_header_and_volatile_field() -> None:
    k = keyer()
    body = b'{"model":"m","messages":[],"user":"u1"}'
    path = "/anthropic/v1/messages"
    _, a = k.from_scope("POST", path, b"", [(b"anthropic-version", b"1")], body)
    _, b = k.from_scope("POST", path, b"", [(b"anthropic-version", b"2")], body)
    _, c = k.from_scope("POST", path, b"", [(b"anthropic-version", b"1"), (b"x-other", b"z")], body)
    _, d = k.from_scope("POST", path, b"", [(b"anthropic-version", b"1")],
                        body.replace(b"u1", b"u2"))
    assert a.key != b.key  # a key header is part of the key
    assert a.key == c.key  # another header is not
    assert a.key == d.key  # nor a volatile body field
    assert c.record.header("x-other") == "z"  # but the record keeps every header


def test_memo_is_bounded_in_entries_and_bytes() -> None:
    memo: Memo[int] = Memo(max_entries=4, max_bytes=1000)
    for i in range(10):
        memo.put(("POST", "/", b"", bytes([i]) * 10, ()), i)
    assert len(memo) == 4
    assert memo.get(("POST", "/", b"", bytes([9]) * 10, ())) == 9
    assert memo.get(("POST", "/", b"", bytes([0]) * 10, ())) is None
    for i in range(3):
        memo.put(("POST", "/", b"", bytes([i]) * 400, ()), i)
    assert memo.bytes <= 1000
    memo.put(("POST", "/", b"", b"x" * (MAX_BODY + 1), ()), 99)
    assert memo.get(("POST", "/", b"", b"x" * (MAX_BODY + 1), ())) is None


def test_log_lines_inside_a_loop_are_written_in_order_by_the_next_iteration() -> None:
    out = io.StringIO()
    log = RequestLog("text", False, out)

    async def main() -> str:
        for i in range(3):
            log.line(method="POST", path=f"/{i}", source="tape", status=200, duration_ms=1.0)
        held = out.getvalue()
        await anyio.sleep(0)
        return held

    assert anyio.run(main) == ""
    assert [line.split()[1] for line in out.getvalue().splitlines()] == ["/0", "/1", "/2"]
    log.warn("outside a loop")  # written at once
    assert out.getvalue().endswith("warning: outside a loop\n")


def test_log_lines_held_by_a_loop_that_closed_are_written_by_the_next_write() -> None:
    out = io.StringIO()
    log = RequestLog("text", False, out)

    async def one() -> None:
        log.line(method="GET", path="/held", source="tape", status=200, duration_ms=1.0)

    anyio.run(one)  # the loop may close before its scheduled flush runs
    log.line(method="GET", path="/next", source="tape", status=200, duration_ms=1.0)
    assert [line.split()[1] for line in out.getvalue().splitlines()] == ["/held", "/next"]
