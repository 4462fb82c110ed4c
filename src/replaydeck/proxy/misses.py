"""Why no tape answers a request: the nearest recorded tapes and the fields that differ.

The one source of the miss explanation: the replay-only 404, the dashboard's
"why" view and ``replaydeck tapes why`` all call ``explain``, so they always say
the same thing. It reads tapes from disk (blocking): the proxy runs it in a
worker thread. Candidates are the most recently written tapes (at most
``MAX_CANDIDATES``), so a miss costs the same with 100 tapes or 100,000.
"""

from __future__ import annotations

from typing import Any

from replaydeck.errors import TapeError
from replaydeck.matching import NearMiss, explain_miss, nearest
from replaydeck.proxy.keys import Keyer, Prepared_Request
from replaydeck.storage.filesystem import TapeStore

MAX_CANDIDATES = 2000


def candidates(keyer: Keyer, store: TapeStore) -> list[tuple[str, str, dict[str, Any]]]:
    """(tape id, key, key material) of the recent tapes that can be read."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for key in store.recent_keys(MAX_CANDIDATES):
        try:
            tape = store.get(key)
        except TapeError:
            continue  # a corrupt tape is reported when it is asked for, not here
        if tape is None:
            continue
        out.append((tape.id, key, keyer.tape_material(tape)))
    return out


def explain(keyer: Keyer, store: TapeStore, req: Prepared_Request) -> tuple[str, list[NearMiss]]:
    """The miss message and the nearest tapes for ``req``."""
    near = nearest(req.material, candidates(keyer, store))
    return explain_miss(req.key, req.record.method, req.record.path, near), near
