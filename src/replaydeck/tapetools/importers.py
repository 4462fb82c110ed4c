"""`tapes import`: other tools' recordings become tapes under the proxy's own keys.

Formats, detected by content (never by file name):
* HAR (``{"log": {"entries": [...]}}``): one tape per entry. The entry's URL is
  mapped to the path a client sends to the proxy: a URL on a configured upstream's
  host gets that route's prefix (``https://api.anthropic.com/v1/messages`` ->
  ``/anthropic/v1/messages``); a loopback URL not on any upstream is taken to be
  replaydeck itself. Timing: the first chunk waits ``timings.wait`` (time to first
  byte); an event stream is split into its events with ``timings.receive`` spread
  over them.
* asgi-replay logs: they hold a response and no request, so the request it answers
  must be given (``--request REQUEST.json``).
* playingpack 0.2/0.3 tapes (``meta`` + ``c``/``d`` chunks): the whole request body
  was saved, so the tape is re-keyed exactly.
* playingpack 0.5+ cache files (``data``/``delay`` chunks): only ``model`` and
  ``messages`` were saved. When playingpack's own hash of those equals the file's
  hash, nothing else was in the request and the tape is re-keyed exactly;
  otherwise the request had fields the file lost (tools, temperature ...), no key
  of ours can be computed, and the file is copied unchanged under playingpack's
  hash, which the proxy still finds through its playingpack fallback.
* replaydeck tapes (e.g. written by ``replaydeck record``): re-keyed with the
  current settings.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from replaydeck.errors import ConfigError, ReplaydeckError, TapeError
from replaydeck.matching import legacy_playingpack_hash
from replaydeck.models import Chunk, Tape
from replaydeck.oneshot.asgilog import is_asgi_log, parse_log
from replaydeck.oneshot.files import read_bytes
from replaydeck.proxy.app import ProxyApp
from replaydeck.storage.format import detect_version, load_tape, stored_body_bytes
from replaydeck.tapetools.build import make_tape
from replaydeck.tapetools.requests import RequestSpec
from replaydeck.wire.http import is_event_stream


@dataclass(frozen=True, slots=True)
class Imported:
    source: str
    kind: str
    key: str
    tape_id: str
    written: Path | None  # None when skipped (a tape with that key exists)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    source: str
    problem: str


def import_paths(app: ProxyApp, paths: list[Path], request: RequestSpec | None = None,
                 overwrite: bool = False) -> tuple[list[Imported], list[Failed]]:
    done: list[Imported] = []
    failed: list[Failed] = []
    for path in paths:
        try:
            done.extend(import_file(app, path, request, overwrite))
        except ReplaydeckError as exc:
            failed.append(Failed(str(path), str(exc)))
    return done, failed


def import_file(app: ProxyApp, path: Path, request: RequestSpec | None,
                overwrite: bool) -> list[Imported]:
    raw = read_bytes(path)
    source = str(path)
    if is_asgi_log(raw):
        if request is None:
            raise ConfigError(f"{path} is an asgi-replay log, which keeps no request: pass "
                              f"--request REQUEST.json to say which request it answers")
        response = parse_log(raw, path=source)
        tape = make_tape(app, request, response.status, response.headers, response.chunks)
        return [_save(app, tape, source, "asgi-replay log", overwrite)]
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TapeError(f"{path} is not JSON: {exc}", path=source) from None
    if isinstance(data, dict) and isinstance(data.get("log"), dict):
        return [_save(app, tape, source, "HAR", overwrite) for tape in _har(app, data["log"])]
    try:
        version = detect_version(data)
    except ValueError:
        raise TapeError(f"{path}: not a HAR file, asgi-replay log, playingpack tape or "
                        f"replaydeck tape", path=source) from None
    old = load_tape(raw, path=source)
    if version == "playingpack-0.5":
        body = old.request_body
        if legacy_playingpack_hash(body) != data.get("hash"):
            return [_keep_legacy(app, path, data, overwrite)]
    kind = {"playingpack-0.3": "playingpack 0.2/0.3 tape",
            "playingpack-0.5": "playingpack 0.5+ cache file"}.get(str(version), "replaydeck tape")
    return [_save(app, rekey(app, old), source, kind, overwrite)]


def spec_of(tape: Tape) -> RequestSpec:
    raw = stored_body_bytes(tape.request_body)
    body = raw if raw is not None else (
        b"" if tape.request_body is None else orjson.dumps(tape.request_body))
    headers = dict(tape.request_headers)
    if raw is None and tape.request_body is not None:
        headers.setdefault("content-type", "application/json")
    return RequestSpec(tape.method, tape.route + tape.path, tape.query,
                       tuple(headers.items()), body)


def rekey(app: ProxyApp, tape: Tape) -> Tape:
    """The tape the proxy would have recorded for this tape's request and response."""
    short = tape.id.replace("-", "")[:8] or None
    return make_tape(app, spec_of(tape), tape.status, tuple(tape.response_headers.items()),
                     tape.chunks, recorded_at=tape.recorded_at or None, tape_id=short)


def _save(app: ProxyApp, tape: Tape, source: str, kind: str, overwrite: bool) -> Imported:
    if app.store.exists(tape.key) and not overwrite:
        return Imported(source, kind, tape.key, tape.id, None,
                        "a tape with this key exists (use --overwrite to replace it)")
    return Imported(source, kind, tape.key, tape.id, app.store.put(tape))


def _keep_legacy(app: ProxyApp, path: Path, data: dict[str, Any], overwrite: bool) -> Imported:
    key = str(data.get("hash"))
    if not key or not all(c in "0123456789abcdef" for c in key) or len(key) != 64:
        raise TapeError(f"{path}: playingpack cache file without a valid hash", path=str(path))
    target = app.store.path(key)
    note = ("kept under playingpack's key: playingpack 0.5+ saved only model and messages, "
            "so the other request fields its key covered are unknown")
    if target.exists() and not overwrite:
        return Imported(str(path), "playingpack 0.5+ cache file", key, key[:8], None,
                        "a tape with this key exists (use --overwrite to replace it)")
    app.store.root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return Imported(str(path), "playingpack 0.5+ cache file", key, key[:8], target, note)


# ---------------------------------------------------------------- HAR


def _header_pairs(items: Any) -> list[tuple[str, str]]:
    out = []
    for h in items or []:
        if isinstance(h, dict) and "name" in h:
            out.append((str(h["name"]).lower(), str(h.get("value", ""))))
    return out


def _raw_path(app: ProxyApp, url: str) -> str:
    """The path a client of the proxy would send for ``url`` (route prefix included)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    for prefix, target in [("", app.settings.upstream), *app.settings.all_routes().items()]:
        if urlsplit(target).netloc == parts.netloc:
            return prefix + path
    # not an upstream: a HAR recorded against replaydeck itself (or an unknown host,
    # which then lands on the default route)
    return path


def _har(app: ProxyApp, log: dict[str, Any]) -> Iterator[Tape]:
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise TapeError("HAR file without log.entries")
    for i, entry in enumerate(entries):
        try:
            yield _har_entry(app, entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise TapeError(f"HAR entry {i} cannot be imported: {exc!r}") from None


def _har_entry(app: ProxyApp, entry: dict[str, Any]) -> Tape:
    req = entry["request"]
    resp = entry["response"]
    url = str(req["url"])
    post = req.get("postData") or {}
    body = str(post.get("text") or "").encode("utf-8")
    headers = _header_pairs(req.get("headers"))
    if post.get("mimeType") and not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", str(post["mimeType"])))
    spec = RequestSpec(str(req.get("method", "GET")).upper(), _raw_path(app, url),
                       urlsplit(url).query, tuple(headers), body)
    content = resp.get("content") or {}
    text = content.get("text")
    if text is None and int(content.get("size") or 0) > 0:
        raise ValueError("the response body was not saved in the HAR")
    data = base64.b64decode(str(text)) if content.get("encoding") == "base64" else str(
        text or "").encode("utf-8")
    timings = entry.get("timings") or {}
    wait = max(float(timings.get("wait") or 0), 0.0)
    receive = max(float(timings.get("receive") or 0), 0.0)
    rheaders = _header_pairs(resp.get("headers"))
    ctype = content.get("mimeType") or dict(rheaders).get("content-type", "")
    if ctype and not any(k == "content-type" for k, _ in rheaders):
        rheaders.append(("content-type", str(ctype)))
    rheaders = [(k, v) for k, v in rheaders if k != "content-encoding"]  # HAR text is decoded
    chunks = _split(data, str(ctype), wait, receive)
    return make_tape(app, spec, int(resp["status"]), rheaders, chunks,
                     recorded_at=str(entry.get("startedDateTime") or "") or None)


def _split(data: bytes, ctype: str, wait: float, receive: float) -> tuple[Chunk, ...]:
    if not data:
        return ()
    if not is_event_stream(ctype):
        return (Chunk(data, wait + receive),)
    events = [e + b"\n\n" for e in data.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]
    gap = receive / max(len(events) - 1, 1)
    return tuple(Chunk(e, wait if i == 0 else gap) for i, e in enumerate(events))
