"""The tape key and miss explanations (pure).

The key is SHA-256 over the canonical JSON (orjson, keys sorted at every level,
compact) of this *key material*::

    {"method": "POST",                      # upper-case
     "route": "/anthropic",                 # matched route prefix, "" for the default upstream
     "path": "/v1/messages",                # after the prefix; a provider may fold variants
     "query": [["api-version", "2024-06-01"]],  # sorted pairs; key-like params dropped
     "headers": {"anthropic-version": "2023-06-01"},  # only the key_headers allowlist
     "body": {...}}                         # JSON minus volatile top-level fields,
                                            # or {"$sha256": hex} for a non-JSON body, or null

Volatile fields are removed at the top level only (a tool parameter called
``timestamp`` stays: playingpack's strip-at-every-depth hid real differences).
Dotted names (``metadata.user_id``) reach one level down.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from replaydeck.redaction import SECRET_QUERY

KEY_VERSION = 1


def parse_json_body(body: bytes) -> tuple[bool, Any]:
    """(True, value) when the body is JSON, else (False, None). Empty body -> (True, None)."""
    if not body:
        return True, None
    try:
        return True, orjson.loads(body)
    except orjson.JSONDecodeError:
        return False, None


def drop_fields(value: Any, fields: Iterable[str]) -> Any:
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name in fields:
        head, _, rest = name.partition(".")
        if not rest:
            out.pop(head, None)
        elif isinstance(out.get(head), dict):
            inner = dict(out[head])
            inner.pop(rest, None)
            out[head] = inner
    return out


def key_query(query: str, secret: frozenset[str] = SECRET_QUERY) -> list[list[str]]:
    pairs = parse_qsl(query, keep_blank_values=True) if query else []
    return sorted([k, v] for k, v in pairs if k.lower() not in secret)


def key_material(
    *,
    method: str,
    route: str,
    path: str,
    query: list[list[str]],
    headers: dict[str, str],
    body: Any,
) -> dict[str, Any]:
    return {
        "method": method.upper(),
        "route": route,
        "path": path,
        "query": query,
        "headers": headers,
        "body": body,
    }


def body_material(body: bytes, volatile: Iterable[str]) -> Any:
    ok, value = parse_json_body(body)
    if ok:
        return drop_fields(value, volatile)
    return {"$sha256": hashlib.sha256(body).hexdigest()}


def digest(material: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()


def legacy_playingpack_hash(body: Any) -> str | None:
    """playingpack 0.2-0.7's key: the body with `stream`, `request_id` and `timestamp`
    removed at every depth, keys sorted (UTF-16 order), compact JSON, SHA-256.
    Used only to find tapes written by playingpack."""
    if not isinstance(body, dict):
        return None

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {
                k: norm(v[k])
                for k in sorted(v, key=lambda s: s.encode("utf-16-be"))
                if k not in ("stream", "request_id", "timestamp")
            }
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    text = orjson.dumps(norm(body)).decode()
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- explanations


@dataclass(frozen=True, slots=True)
class Difference:
    path: str
    ours: Any
    theirs: Any


_MISSING = object()


def diff(a: Any, b: Any, prefix: str = "", limit: int = 20) -> list[Difference]:
    """Leaf-level differences between two JSON values, as dotted/indexed paths."""
    out: list[Difference] = []
    _diff(a, b, prefix, out, limit)
    return out


def _diff(a: Any, b: Any, path: str, out: list[Difference], limit: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            sub = f"{path}.{k}" if path else str(k)
            _diff(a.get(k, _MISSING), b.get(k, _MISSING), sub, out, limit)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            _diff(
                a[i] if i < len(a) else _MISSING,
                b[i] if i < len(b) else _MISSING,
                f"{path}[{i}]",
                out,
                limit,
            )
        return
    if a is _MISSING and b is _MISSING:
        return
    if a != b or type(a) is not type(b):
        out.append(
            Difference(
                path or "(root)",
                None if a is _MISSING else a,
                None if b is _MISSING else b,
            )
        )


def _short(value: Any, width: int = 60) -> str:
    text = orjson.dumps(value).decode() if value is not None else "(absent)"
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True, slots=True)
class NearMiss:
    tape_id: str
    key: str
    path: str
    differences: tuple[Difference, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "tape": self.tape_id,
            "key": self.key,
            "endpoint": self.path,
            "differences": [
                {"field": d.path, "request": d.ours, "tape": d.theirs} for d in self.differences
            ],
        }


def nearest(
    material: dict[str, Any],
    candidates: Sequence[tuple[str, str, dict[str, Any]]],
    n: int = 3,
) -> list[NearMiss]:
    """Rank (tape_id, key, material) candidates by how few fields differ."""
    scored: list[tuple[int, int, NearMiss]] = []
    for order, (tape_id, key, other) in enumerate(candidates):
        diffs = diff(material, other, limit=50)
        if not diffs:
            continue  # identical material but another key: cannot explain, skip
        penalty = sum(100 for d in diffs if d.path in ("method", "path", "route"))
        near = NearMiss(tape_id, key, str(other.get("path", "")), tuple(diffs[:8]))
        scored.append((penalty + len(diffs), order, near))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [s[2] for s in scored[:n]]


def explain_miss(key: str, method: str, path: str, near: Sequence[NearMiss]) -> str:
    head = f"replay-only: no tape for {method} {path} (key {key[:12]})."
    if not near:
        return head + " No recorded tape is close; record one with --record auto."
    best = near[0]
    fields = ", ".join(
        f"{d.path}: request {_short(d.ours)} vs tape {_short(d.theirs)}"
        for d in best.differences[:5]
    )
    return f"{head} Nearest tape {best.tape_id} ({best.key[:12]}) differs in {fields}"
