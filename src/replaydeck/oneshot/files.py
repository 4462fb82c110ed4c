"""Reading a one-shot FILE: a replaydeck tape or an asgi-replay log, detected by content.

Detection does not trust the file name (asgi-replay's examples name logs ``*.json``
too): ``asgilog.is_asgi_log`` looks at the first line, anything else is read as a
tape, with the tape reader's own errors (corrupt, newer version) passed through.
"""

from __future__ import annotations

from pathlib import Path

from replaydeck.errors import TapeCorrupt
from replaydeck.models import Tape
from replaydeck.oneshot.asgilog import LoggedResponse, is_asgi_log, parse_log
from replaydeck.storage.format import load_tape


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TapeCorrupt(f"{path}: no such file", path=str(path)) from None
    except IsADirectoryError:
        raise TapeCorrupt(f"{path} is a directory, not a tape or log", path=str(path)) from None
    except OSError as exc:
        raise TapeCorrupt(f"cannot read {path}: {exc.strerror}", path=str(path)) from None


def tape_from_response(response: LoggedResponse) -> Tape:
    """A tape holding only a response (a log has no request): for replaying it to anyone."""
    return Tape(
        key="",
        id="asgi-log",
        recorded_at="",
        provider="generic",
        method="GET",
        route="",
        path="/",
        query="",
        request_headers={},
        request_body=None,
        stream=None,
        status=response.status,
        response_headers=_joined(response.headers),
        chunks=response.chunks,
        legacy="asgi-replay",
    )


def _joined(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def load_any(path: Path) -> Tape:
    """The interaction in FILE, whichever of the two formats it is in."""
    raw = read_bytes(path)
    if is_asgi_log(raw):
        return tape_from_response(parse_log(raw, path=str(path)))
    return load_tape(raw, path=str(path))
