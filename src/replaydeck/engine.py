"""Pure decisions: what to do with a request, given the mode and what is known.

``decide`` does no I/O; the driver (``proxy.app``) looks things up, asks, and
carries the answer out. Later features (the interceptor's pause points) add a
decision type here and one branch in the driver.

    mode         tape?   recording in flight?   decision
    off          -       -                      Forward(record=False)
    auto         yes     -                      Replay
    auto         no      yes                    Join       (single flight: one upstream call)
    auto         no      no                     Forward(record=True)
    replay-only  yes     -                      Replay
    replay-only  no      -                      Miss       (explained error, never upstream)
"""

from __future__ import annotations

from dataclasses import dataclass

from replaydeck.settings import Mode


@dataclass(frozen=True, slots=True)
class Replay:
    pass


@dataclass(frozen=True, slots=True)
class Join:
    pass


@dataclass(frozen=True, slots=True)
class Forward:
    record: bool


@dataclass(frozen=True, slots=True)
class Miss:
    pass


Decision = Replay | Join | Forward | Miss

REPLAY = _REPLAY = Replay()  # the one Replay: the driver compares by identity
_JOIN = Join()
_RECORD = Forward(record=True)
_PASS = Forward(record=False)
_MISS = Miss()


def decide(mode: Mode, has_tape: bool, in_flight: bool) -> Decision:
    if mode is Mode.OFF:
        return _PASS
    if has_tape:
        return _REPLAY
    if mode is Mode.REPLAY_ONLY:
        return _MISS
    return _JOIN if in_flight else _RECORD
