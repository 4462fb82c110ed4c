"""The benchmark suite runs end to end in its smallest mode (``--smoke``).

This proves the bench works from a clean checkout (its fake upstream, its tapes,
replaydeck started from this tree, the bare uvicorn limit, wrk, every scenario)
and prints its table. No figure is asserted against a target: timings on a shared
CI machine are noise; the full run (`python bench/run.py`) is for measuring.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None,
                                reason="wrk is not installed (.ci/run installs it)")


@pytest.mark.timeout(150)
def test_smoke_run_prints_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results"
    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--no-node",
         "--work", str(tmp_path / "work"), "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=140,
    )
    print(r.stdout[-4000:])  # the table, visible with -s or on failure
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for figure in ("replay req/s, c=32", "replay p50, c=1", "passthrough added p50, mode off",
                   "passthrough added p50, recording a miss", "streamed first event added",
                   "median gap error", "median TTFB error", "concurrent streams",
                   "start-up to healthy /health", "first-touch replay p50", "RSS after"):
        assert figure in r.stdout, f"missing {figure!r} in the table"
    (result,) = out.glob("*-smoke.json")
    data = json.loads(result.read_text())
    replay = data["replay"]
    assert replay["wrk_errors"] == 0
    assert replay["rps_c32"]["replaydeck"] > 0 and replay["rps_c32"]["limit-uvicorn"] > 0
    assert data["record"]["ns_bytes"] == replay["reply_bytes"]  # replayed what was recorded
    assert data["fidelity"]["recorded_events"] >= 20
    assert data["scale"]["distinct_replayed"] > 0 and data["scale"]["rss_mb"]["after"] > 0
