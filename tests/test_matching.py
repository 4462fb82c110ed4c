"""The tape key (normalizer) and miss explanations."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from replaydeck.matching import (
    body_material,
    diff,
    digest,
    drop_fields,
    key_material,
    key_query,
    legacy_playingpack_hash,
    nearest,
)
from replaydeck.settings import DEFAULT_VOLATILE_FIELDS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def key_of(body: bytes, query: str = "", headers: dict[str, str] | None = None, path: str = "/v1/chat/completions") -> str:
    return digest(key_material(method="post", route="", path=path, query=key_query(query),
                               headers=headers or {}, body=body_material(body, DEFAULT_VOLATILE_FIELDS)))


def shuffled_json(value: Any, rnd: Any) -> str:
    import json

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            items = list(v.items())
            rnd.shuffle(items)
            return {k: walk(x) for k, x in items}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return json.dumps(walk(value), separators=(",", ":") if rnd.random() < 0.5 else (", ", ": "))


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6), st.randoms(), st.booleans())
def test_key_ignores_key_order_spacing_and_stream(body: dict[str, Any], rnd: Any, stream: bool) -> None:
    a = dict(body)
    b = dict(body)
    b["stream"] = stream
    b["stream_options"] = {"include_usage": True}
    b["user"] = "someone"
    assert key_of(shuffled_json(a, rnd).encode()) == key_of(shuffled_json(b, rnd).encode())


@given(st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k not in DEFAULT_VOLATILE_FIELDS),
                       json_values, min_size=1, max_size=5), st.data())
def test_key_changes_when_content_changes(body: dict[str, Any], data: Any) -> None:
    k = data.draw(st.sampled_from(sorted(body)))
    other = dict(body)
    other[k] = {"changed": body[k]}
    import json

    assert key_of(json.dumps(body).encode()) != key_of(json.dumps(other).encode())


def test_nested_volatile_names_are_kept() -> None:
    # a tool parameter called "timestamp" is content, not bookkeeping
    a = b'{"tools":[{"parameters":{"timestamp":{"type":"string"}}}]}'
    b = b'{"tools":[{"parameters":{}}]}'
    assert key_of(a) != key_of(b)


def test_path_query_headers_and_binary_bodies() -> None:
    assert key_of(b"{}", path="/v1/a") != key_of(b"{}", path="/v1/b")
    assert key_of(b"{}", query="b=1&a=2") == key_of(b"{}", query="a=2&b=1")
    assert key_of(b"{}", query="api-version=1") != key_of(b"{}", query="api-version=2")
    assert key_of(b"{}", query="key=SECRET1") == key_of(b"{}", query="key=SECRET2")
    assert key_of(b"{}", headers={"anthropic-version": "1"}) != key_of(b"{}", headers={"anthropic-version": "2"})
    assert key_of(b"\xff\x00") != key_of(b"\xff\x01")


def test_drop_fields_dotted() -> None:
    assert drop_fields({"metadata": {"user_id": 1, "x": 2}}, ["metadata.user_id"]) == {"metadata": {"x": 2}}


def test_diff_paths_and_nearest() -> None:
    a = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "x"}]}
    b = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "y"}]}
    [d] = diff(a, b)
    assert d.path == "messages[1].content" and (d.ours, d.theirs) == ("x", "y")
    mat = key_material(method="POST", route="", path="/p", query=[], headers={}, body=a)
    far = key_material(method="GET", route="", path="/q", query=[], headers={}, body={})
    near = key_material(method="POST", route="", path="/p", query=[], headers={}, body=b)
    ranked = nearest(mat, [("far", "k1", far), ("near", "k2", near)])
    assert ranked[0].tape_id == "near"
    assert ranked[0].differences[0].path == "body.messages[1].content"


def test_legacy_hash_matches_playingpack_rules() -> None:
    # playingpack: stream/request_id/timestamp removed at every depth, keys sorted, compact JSON
    import hashlib

    body = {"b": 1, "a": {"stream": True, "z": [1, {"timestamp": 2, "y": None}]}, "stream": False}
    expected = hashlib.sha256(b'{"a":{"z":[1,{"y":null}]},"b":1}').hexdigest()
    assert legacy_playingpack_hash(body) == expected
