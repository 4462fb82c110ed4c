from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.support import FAKE_KEYS, ThreadServer, running

_WRITTEN_TAPES: list[Path] = []


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in list(os.environ):
        if var.startswith(("REPLAYDECK_", "OPENAI_", "ANTHROPIC_", "GOOGLE_", "GEMINI_", "OLLAMA_")) or var.lower() in (
            "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ci"
        ):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fake() -> FakeUpstream:
    return FakeUpstream()


@pytest.fixture
def upstream(fake: FakeUpstream) -> Iterator[ThreadServer]:
    with running(fake) as srv:
        yield srv


@pytest.fixture(autouse=True)
def no_secrets_on_disk(tmp_path: Path) -> Iterator[None]:
    """Every file any test writes (tapes, their base64 chunks joined, SQLite history and its
    write-ahead log, logs) is scanned for the fake API keys the tests use."""
    yield
    import base64
    import re

    for path in tmp_path.rglob("*"):
        if not path.is_file() or path.stat().st_size > 50_000_000:
            continue
        data = path.read_bytes()
        blobs = [data]
        if path.suffix == ".json":
            decoded = [base64.b64decode(m) for m in re.findall(rb'"\$base64":\s*"([A-Za-z0-9+/=]*)"', data)]
            blobs.append(b"".join(decoded))
        for blob in blobs:
            for key in FAKE_KEYS:
                assert key.encode() not in blob, f"secret {key[:8]}... written to {path}"
