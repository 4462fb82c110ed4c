"""Redaction of bodies that arrive in pieces."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from replaydeck.redaction import Redactor

KEY = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_secret_split_anywhere_is_masked_and_boundaries_kept(cuts: list[int]) -> None:
    body = ("data: {\"text\":\"caf\u00e9 " + KEY + " and the token tok-123456789\"}\n\n").encode()
    r = Redactor().for_request([("authorization", "Bearer tok-123456789")], "")
    points = sorted({c % (len(body) + 1) for c in cuts})
    parts, prev = [], 0
    for p in points:
        parts.append(body[prev:p])
        prev = p
    parts.append(body[prev:])
    out = r.chunks(parts)
    joined = b"".join(out)
    assert len(out) == len(parts)
    assert KEY.encode() not in joined and b"tok-123456789" not in joined
    assert joined == r.bytes_(body) and joined.count(b"REDACTED") == 2


def test_invalid_utf8_does_not_disable_redaction() -> None:
    data = b"\xc3 " + KEY.encode() + b" \xff"
    assert KEY.encode() not in Redactor().bytes_(data)


_PIECES = st.sampled_from(["sk-", "sk-ant-", "AIza", "Bearer ", "bearer", "BEARER ", "earer",
                           "tok-123456789", "abcdefghijklmnopqrstuvwxyz0123", "_", "-", " ", "é",
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "key=", "\n"])


@given(st.lists(_PIECES, max_size=12).map("".join))
def test_the_substring_prefilter_never_changes_what_is_masked(text: str) -> None:
    """text/bytes_/chunks skip the regex when no needle occurs: the result must be
    exactly what the regex alone gives, for the shipped shapes and a request's own
    secret values alike."""
    for r in (Redactor(), Redactor().for_request([("authorization", "Bearer tok-123456789")], "")):
        assert r.text(text) == r.pattern.sub("REDACTED", text)
        data = text.encode()
        assert r.bytes_(data) == r.bpattern.sub(b"REDACTED", data)
        assert b"".join(r.chunks([data[:3], data[3:]])) == r.bpattern.sub(b"REDACTED", data)


def test_user_patterns_are_never_prefiltered() -> None:
    r = Redactor(extra_patterns=[r"secret-\d+"])
    assert r.text("a secret-42 here") == "a REDACTED here"
    assert r.bytes_(b"secret-7") == b"REDACTED"
