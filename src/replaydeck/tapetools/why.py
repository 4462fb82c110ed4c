"""`tapes why`: which tape a request would replay, or why none matches.

The key comes from ``ProxyApp.build`` and the lookup from ``ProxyApp.lookup`` (with
its playingpack fallback), and a miss is explained by ``ProxyApp.explain``: the
same function that writes the replay-only miss error, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from replaydeck.matching import NearMiss
from replaydeck.models import Tape
from replaydeck.proxy.app import ProxyApp
from replaydeck.tapetools.requests import RequestSpec


@dataclass(frozen=True, slots=True)
class Answer:
    key: str
    provider: str
    method: str
    path: str
    tape: Tape | None  # the tape that would replay
    message: str  # the miss explanation, when no tape matches
    near: tuple[NearMiss, ...]


def why(app: ProxyApp, spec: RequestSpec) -> Answer:
    route, path = app.router.match(spec.raw_path)
    req = app.build(spec.method, route, path, spec.query, spec.headers, spec.body)
    entry = app.lookup(req)
    if entry is not None:
        return Answer(req.key, req.provider.name, spec.method, spec.raw_path, entry.tape, "", ())
    message, near = app.explain(req)
    return Answer(req.key, req.provider.name, spec.method, spec.raw_path, None, message,
                  tuple(near))
