"""The tooling bar, run by the test suite itself so CI and a laptop agree:
ruff on src and tests, mypy --strict on src."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, text=True, capture_output=True, timeout=300)


def test_ruff_clean() -> None:
    r = run("ruff", "check", "src", "tests")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_clean() -> None:
    r = run("mypy", "src/replaydeck")
    assert r.returncode == 0, r.stdout + r.stderr
