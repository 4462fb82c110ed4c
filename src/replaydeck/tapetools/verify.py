"""`tapes verify`: is every tape loadable, current, well-formed and free of secrets?

Made to run in CI before tapes are committed. Each problem is a ``Finding`` naming
the file, the JSON location and what is wrong; a secret is shown masked (its first
characters and length), never in full, so the report itself is safe to print in a
CI log.

Checks, per file:
1. JSON, and a known layout; the format version is the current one (an older one
   asks for ``tapes migrate``, a newer one for a newer replaydeck);
2. it loads as a tape; ``meta.hash`` matches the file name (``<key>.json`` or
   ``<key>-<n>.json``); the status is an HTTP status; every chunk has ``c`` and a
   number ``d`` >= 0;
3. secrets: request/response headers that must never be stored (Authorization,
   API-key headers, cookies ...); key-like query parameters with a real value;
   any string anywhere (bodies, chunks, base64 chunks decoded) matching the API-key
   patterns or the user's ``redact_patterns``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson

from replaydeck.errors import TapeError
from replaydeck.redaction import MASK, Redactor
from replaydeck.storage.format import FORMAT_VERSION, detect_version, load_tape


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.problem}" if self.where else (
            f"{self.file}: {self.problem}")


@dataclass(frozen=True, slots=True)
class Report:
    checked: int
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def files_with_problems(self) -> int:
        return len({f.file for f in self.findings})


def mask(secret: str) -> str:
    return f"{secret[:6]}… ({len(secret)} chars)"


def tape_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*.json") if not p.name.startswith("."))


def verify_dir(root: Path, redactor: Redactor) -> Report:
    findings: list[Finding] = []
    files = tape_files(root)
    for path in files:
        findings.extend(verify_file(path, redactor))
    return Report(len(files), tuple(findings))


def verify_file(path: Path, redactor: Redactor) -> list[Finding]:
    name = path.name
    try:
        raw = path.read_bytes()
        data = orjson.loads(raw)
    except OSError as exc:
        return [Finding(name, "", f"cannot read: {exc.strerror}")]
    except orjson.JSONDecodeError as exc:
        return [Finding(name, "", f"not JSON: {exc}")]
    out = list(_secrets(name, data, redactor))  # secrets first: they matter in any layout
    try:
        version = detect_version(data)
    except ValueError as exc:
        return [*out, Finding(name, "", str(exc))]
    if isinstance(version, str):
        out.append(Finding(name, "version", f"old format ({version}): run `replaydeck tapes "
                                            f"migrate` to upgrade it"))
    elif version > FORMAT_VERSION:
        out.append(Finding(name, "version", f"format version {version} is newer than this "
                                            f"replaydeck understands (up to {FORMAT_VERSION})"))
        return out
    elif version < FORMAT_VERSION:
        out.append(Finding(name, "version", f"format version {version} is out of date: run "
                                            f"`replaydeck tapes migrate`"))
    try:
        tape = load_tape(raw, path=name)
    except TapeError as exc:
        return [*out, Finding(name, "", str(exc))]
    if isinstance(version, int):
        out.extend(_structure(name, path.stem, data, tape.key))
    return out


def _structure(name: str, stem: str, data: dict[str, Any], key: str) -> Iterator[Finding]:
    for section in ("meta", "request", "response"):
        if not isinstance(data.get(section), dict):
            yield Finding(name, section, "missing or not an object")
    seq = (data.get("meta") or {}).get("sequence") or 0
    expected = key if not seq else f"{key}-{seq}"
    if stem != expected:
        yield Finding(name, "meta.hash", f"file name does not match the tape's key "
                                         f"(expected {expected}.json): the proxy will not find it")
    response = data.get("response") or {}
    status = response.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        yield Finding(name, "response.status", f"{status!r} is not an HTTP status")
    for i, chunk in enumerate(response.get("chunks") or []):
        d = chunk.get("d") if isinstance(chunk, dict) else None
        if not isinstance(d, int | float) or isinstance(d, bool) or d < 0:
            yield Finding(name, f"response.chunks[{i}].d", f"{d!r} is not a delay in ms >= 0")


def _secrets(name: str, data: Any, redactor: Redactor) -> Iterator[Finding]:
    request = data.get("request") if isinstance(data, dict) else None
    response = data.get("response") if isinstance(data, dict) else None
    for section, part in (("request", request), ("response", response)):
        headers = part.get("headers") if isinstance(part, dict) else None
        if isinstance(headers, dict):
            for header, value in headers.items():
                if redactor.is_secret_header(str(header)) and str(value) != MASK:
                    yield Finding(name, f"{section}.headers.{header}",
                                  f"secret header stored: {mask(str(value))}")
    query = request.get("query") if isinstance(request, dict) else None
    if isinstance(query, str) and query:
        for k, v in parse_qsl(query, keep_blank_values=True):
            if k.lower() in redactor.query and v not in ("", MASK):
                yield Finding(name, f"request.query.{k}", f"secret parameter stored: {mask(v)}")
    for where, text in _strings(data, ""):
        for m in redactor.pattern.finditer(text):
            yield Finding(name, where, f"API key or token: {mask(m.group(0))}")


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where or "(root)", value
    elif isinstance(value, dict):
        b64 = value.get("$base64") if len(value) == 1 else None
        if isinstance(b64, str):
            try:
                yield where, base64.b64decode(b64).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return
            return
        for k, v in value.items():
            yield where or "(root)", str(k)
            yield from _strings(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i}]")
