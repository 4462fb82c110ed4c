"""`tapes migrate`: upgrade every tape of an older format in place.

Rules:
1. A tape at the current version is left untouched (no rewrite, no git diff).
2. An older replaydeck format is read through ``storage.format.migrate`` and written
   back atomically to the same file name.
3. A playingpack tape is re-keyed (its name was playingpack's key, not ours): the
   upgraded tape is written under our key first, then the old file is removed, so
   an interruption leaves the old file or both, never neither. A playingpack 0.5+
   file whose key cannot be recomputed stays as it is (see ``importers``), and so
   does one whose request already has a current tape (never overwritten).
4. A tape from a newer replaydeck is an error naming the file; other files are
   still migrated, and the command exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from replaydeck.errors import TapeError
from replaydeck.matching import legacy_playingpack_hash
from replaydeck.proxy.app import ProxyApp
from replaydeck.storage.filesystem import write_atomic
from replaydeck.storage.format import FORMAT_VERSION, detect_version, dump_tape, load_tape
from replaydeck.tapetools.importers import rekey
from replaydeck.tapetools.verify import tape_files


@dataclass(frozen=True, slots=True)
class Outcome:
    file: str
    status: str  # "upgraded" | "current" | "kept" | "error"
    detail: str = ""


def migrate_dir(app: ProxyApp, root: Path, dry_run: bool = False) -> list[Outcome]:
    return [migrate_file(app, path, dry_run) for path in tape_files(root)]


def migrate_file(app: ProxyApp, path: Path, dry_run: bool = False) -> Outcome:
    name = path.name
    try:
        raw = path.read_bytes()
        version = detect_version(orjson.loads(raw))
    except (OSError, orjson.JSONDecodeError, ValueError) as exc:
        return Outcome(name, "error", f"not a tape: {exc}")
    if version == FORMAT_VERSION:
        return Outcome(name, "current")
    try:
        tape = load_tape(raw, path=name)  # raises TapeVersionError for a newer version
    except TapeError as exc:
        return Outcome(name, "error", str(exc))
    if isinstance(version, int):  # an older replaydeck format: same key, same file
        if not dry_run:
            write_atomic(path, dump_tape(tape))
        return Outcome(name, "upgraded", f"format {version} -> {FORMAT_VERSION}")
    if version == "playingpack-0.5" and legacy_playingpack_hash(tape.request_body) != tape.key:
        return Outcome(name, "kept", "playingpack 0.5+ file without the full request: kept "
                                     "under playingpack's key (the proxy still finds it)")
    new = rekey(app, tape)
    if app.store.exists(new.key) and app.store.path(new.key).resolve() != path.resolve():
        # never overwrite a tape recorded with replaydeck by an older copy of it
        return Outcome(name, "kept", f"{new.key}.json already answers this request; remove "
                                     f"this file with `replaydeck tapes rm` if it is not needed")
    if not dry_run:
        target = app.store.put(new)
        if target.resolve() != path.resolve():
            path.unlink()
    return Outcome(name, "upgraded", f"{version} -> format {FORMAT_VERSION}, "
                                     f"re-keyed as {new.key}.json")
