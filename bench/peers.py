"""``--peers``: run the shared side-by-side harness and fold its results in.

The harness (``../shared/bench/run_all.sh``, or ``$REPLAYDECK_PEERS_BENCH``)
installs proxay, talkback, mitmproxy and asgi-replay itself and knows how to start
each; it also runs replaydeck (from this checkout, via ``REPLAYDECK_BIN``) and the
bare limits, so every ratio shown here comes from that one run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.procs import ROOT, clean_env

ALL = ("limit-node-http,limit-uvicorn-asgi,upstream-direct,replaydeck,talkback,proxay,"
       "mitmproxy,asgi-replay")


def harness() -> Path:
    env = os.environ.get("REPLAYDECK_PEERS_BENCH")
    return Path(env) if env else ROOT.parent / "shared" / "bench" / "run_all.sh"


def run(mode: str, work: Path, say: Any) -> dict[str, Any]:
    script = harness()
    if not script.is_file():
        return {"error": f"{script} not found (set REPLAYDECK_PEERS_BENCH)"}
    extra = {"REPLAYDECK_BIN": f"{sys.executable} -m replaydeck",
             "TARGETS": os.environ.get("TARGETS", ALL)}
    if mode != "full":
        extra["QUICK"] = "1"
    else:  # keep the whole run near 10 minutes: one round of the peers
        extra.setdefault("REPS", os.environ.get("REPS", "1"))
    log = work / "peers.log"
    with open(log, "wb") as fh:
        proc = subprocess.run(["bash", str(script)], env=clean_env(extra), stdout=fh,
                              stderr=subprocess.STDOUT, timeout=3600, check=False)
    text = log.read_text("utf-8", "replace")
    m = re.search(r"^results:\s+(\S+)", text, re.M)
    if proc.returncode != 0 or not m:
        say(f"peers harness failed (exit {proc.returncode}); see {log}")
        return {"error": f"harness exit {proc.returncode}, see {log}"}
    data = json.loads(Path(m.group(1)).read_text())
    return fold(data)


def fold(data: dict[str, Any]) -> dict[str, Any]:
    targets = data.get("targets", {})
    out: dict[str, Any] = {"run_id": data.get("run_id"), "report": data.get("report"),
                           "rows": {}}
    for name, t in targets.items():
        rp = t.get("replay") or {}
        pt = t.get("passthrough") or {}
        out["rows"][name] = {
            "status": t.get("status"), "rps_c32": rp.get("rps_c32"), "p50_us": rp.get("p50_us"),
            "added_p50_us": pt.get("added_p50_us"), "first_event_ms": pt.get("first_event_ms"),
            "gap_preserved": rp.get("gap_preserved"), "gap_median_ms": rp.get("gap_median_ms"),
        }
    rows = out["rows"]
    out["replaydeck_rps_c32"] = (rows.get("replaydeck") or {}).get("rps_c32")
    out["talkback_rps_c32"] = (rows.get("talkback") or {}).get("rps_c32")
    return out


def table(pe: dict[str, Any]) -> str:
    if pe.get("error"):
        return f"peers: {pe['error']}"
    rows = pe["rows"]
    lim = (rows.get("limit-uvicorn-asgi") or {}).get("rps_c32")
    lines = [f"peers (one run of the shared harness, {pe.get('run_id')}; ratios within that run)",
             "| target | replay req/s c=32 | vs bare uvicorn | p50 c=1 | passthrough added p50 "
             "| stream first event | 20 ms gaps |",
             "|---|---:|---:|---:|---:|---:|---|"]

    def f(v: Any, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    for name, r in sorted(rows.items(), key=lambda kv: -(kv[1].get("rps_c32") or 0)):
        if r["status"] in ("skipped", "failed"):
            lines.append(f"| {name} | {r['status']} | | | | | |")
            continue
        ratio = f"{r['rps_c32'] / lim:.2f} x" if lim and r.get("rps_c32") else "-"
        gaps = "-" if r["gap_preserved"] is None else (
            f"kept ({r['gap_median_ms']:.1f} ms)" if r["gap_preserved"] else "lost")
        lines.append(f"| {name} | {f(r['rps_c32'], ',.0f')} | {ratio} "
                     f"| {f(r['p50_us'], ',.0f')} us "
                     f"| {f(r['added_p50_us'], '+,.0f')} us | {f(r['first_event_ms'], '.1f')} ms "
                     f"| {gaps} |")
    return "\n".join(lines)
