"""replaydeck's benchmark suite: one command, every scenario of issue 6, one table.

    python bench/run.py            # full run (under 10 minutes)
    python bench/run.py --quick    # under 2 minutes
    python bench/run.py --smoke    # the smallest end-to-end run (CI test)
    python bench/run.py --peers    # also run ../shared/bench (proxay, talkback, ...)

It builds its own fake upstream and tapes (recorded through replaydeck), starts
replaydeck from this checkout and the bare limits (a raw ASGI app on uvicorn +
httptools + uvloop serving the same bytes; node's http server when node exists),
and prints a markdown table of figures, ratios and the targets. The figures and
the machine's load go to ``bench/results/<stamp>-<mode>.json``.

Only 127.0.0.1 is used; every process started is stopped by its PID; every load
is bounded by count and time.
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from bench import peers, procs, scenarios  # noqa: E402


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import uvicorn

    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "uvicorn": uvicorn.__version__, "kernel": platform.release(),
            "load": list(os.getloadavg())}


def fmt(v: float | None, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if unit == "rps":
        return f"{v:,.0f}"
    if unit == "us":
        return f"{v:,.0f} us"
    if unit == "ms":
        return f"{v:.2f} ms"
    if unit == "s":
        return f"{v:.2f} s"
    if unit == "MB":
        return f"{v:.0f} MB"
    if unit == "x":
        return f"{v:.2f} x"
    return f"{v}"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(figure, replaydeck, reference, ratio/diff, target, met)."""
    out: list[tuple[str, str, str, str, str, str]] = []

    def add(name: str, ours: str, ref: str, rel: str, target: str, ok: bool | None) -> None:
        verdict = "-" if ok is None else ("met" if ok else "NOT met")
        out.append((name, ours, ref, rel, target, verdict))

    sp = r.get("replay")
    if sp:
        rd, lim = sp["rps_c32"]["replaydeck"], sp["rps_c32"]["limit-uvicorn"]
        add("replay req/s, c=32 (vs bare uvicorn)", fmt(rd, "rps"), fmt(lim, "rps"),
            fmt(rd / lim, "x"), ">= 0.75 x", rd / lim >= 0.75)
        if "limit-node" in sp["rps_c32"]:
            node = sp["rps_c32"]["limit-node"]
            add("  (bare node http, c=32)", fmt(rd, "rps"), fmt(node, "rps"), fmt(rd / node, "x"),
                "-", None)
        rd, lim = sp["p50_us"]["replaydeck"], sp["p50_us"]["limit-uvicorn"]
        add("replay p50, c=1 (vs bare uvicorn)", fmt(rd, "us"), fmt(lim, "us"), fmt(rd / lim, "x"),
            "<= 1.15 x", rd / lim <= 1.15)
        rd, lim = sp["server_cpu_us"]["replaydeck"], sp["server_cpu_us"]["limit-uvicorn"]
        add("  server CPU per request, c=1", fmt(rd, "us"), fmt(lim, "us"), fmt(rd / lim, "x"),
            "-", None)
        add("  replay p99, c=1", fmt(sp["p99_us"]["replaydeck"], "us"),
            fmt(sp["p99_us"]["limit-uvicorn"], "us"), "-", "-", None)
    ps = r.get("passthrough")
    if ps:
        direct = ps["p50_us"]["direct"]
        for mode, label in (("off", "mode off"), ("record", "recording a miss")):
            add(f"passthrough added p50, {label}", f"+{ps['added_p50_us'][mode]:,.0f} us",
                f"{direct:,.0f} us direct", "-", "<= +150 us", ps["added_p50_us"][mode] <= 150)
        fe = ps["first_event_us"]["direct"]
        for mode, label in (("off", "mode off"), ("record", "recording")):
            add(f"streamed first event added, {label}",
                f"+{ps['first_event_added_us'][mode]:,.0f} us", f"{fe:,.0f} us direct", "-",
                "<= +1 ms", ps["first_event_added_us"][mode] <= 1000)
        sf = ps.get("single_flight")
        if sf:
            add(f"{sf['clients']} identical concurrent misses (auto)",
                f"{sf['upstream_calls']} upstream call(s)", f"{sf['complete']} complete replies",
                "-", "1 call", sf["upstream_calls"] == 1 and sf["complete"] == sf["clients"])
    fi = r.get("fidelity")
    if fi:
        add("--timing original: median gap error", fmt(fi["gap_err_median_ms"], "ms"),
            f"{fi['recorded_events']} events", f"p95 {fmt(fi['gap_err_p95_ms'], 'ms')}",
            "<= 1 ms", fi["gap_err_median_ms"] <= 1)
        add("--timing original: median TTFB error", fmt(fi["ttfb_err_median_ms"], "ms"),
            f"{fi['recorded_ttfb_ms']:.1f} ms recorded", "-", "<= 1 ms",
            fi["ttfb_err_median_ms"] <= 1)
        add(f"{fi['concurrent']} concurrent streams: median gap error",
            fmt(fi["concurrent_gap_err_median_ms"], "ms"), "20 ms gaps",
            f"p95 {fmt(fi['concurrent_gap_err_p95_ms'], 'ms')}", "<= 2 ms",
            fi["concurrent_gap_err_median_ms"] <= 2)
    sc = r.get("scale")
    if sc:
        n = f"{sc['tapes']:,}"
        add(f"start-up to healthy /health, {n} tapes", fmt(sc["startup_s"]["big"], "s"),
            f"{fmt(sc['startup_s']['empty'], 's')} empty", "-", "<= 0.7 s",
            sc["startup_s"]["big"] <= 0.7)
        lk = sc["lookup_p50_us"]
        ratio = lk["big"] / lk["small"]
        add(f"first-touch replay p50, {n} vs {sc['small_tapes']:,} tapes", fmt(lk["big"], "us"),
            fmt(lk["small"], "us"), fmt(ratio, "x"), "independent (<= 1.25 x)", ratio <= 1.25)
        add(f"RSS after {sc['distinct_replayed']:,} distinct replays",
            fmt(sc["rss_mb"]["after"], "MB"),
            f"{fmt(sc['rss_mb']['start'], 'MB')} at start", "-", "<= 100 MB",
            sc["rss_mb"]["after"] <= 100)
    pe = r.get("peers")
    if pe and pe.get("talkback_rps_c32") and pe.get("replaydeck_rps_c32"):
        ratio = pe["replaydeck_rps_c32"] / pe["talkback_rps_c32"]
        add("replay req/s c=32 vs talkback (peers run)", fmt(pe["replaydeck_rps_c32"], "rps"),
            fmt(pe["talkback_rps_c32"], "rps"), fmt(ratio, "x"), "> 1 x", ratio > 1)
    return out


def table(r: dict[str, Any]) -> str:
    head = ("figure", "replaydeck", "reference", "ratio", "target", "")
    body = rows(r)
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(6)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(x) for x in body)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the short run (under 2 minutes)")
    size.add_argument("--smoke", action="store_true", help="the smallest run (CI test)")
    ap.add_argument("--peers", action="store_true", help="also run ../shared/bench/run_all.sh")
    ap.add_argument("--no-node", action="store_true", help="skip the bare node limit")
    ap.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    ap.add_argument("--only", default="", help="comma list: replay,fidelity,passthrough,scale")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "results" / "work",
                    help="scratch directory (generated tape sets are cached here)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    plan = scenarios.PLANS[mode]
    only = set(filter(None, args.only.split(",")))
    pinning = procs.Pinning(not args.no_pin)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    work = args.work / f"{stamp}-{mode}"
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "mode": mode, "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(), "pinning": pinning.describe(), "plan": plan.__dict__}
    say = lambda msg: print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", flush=True)  # noqa: E731
    say(f"replaydeck bench ({mode}); {pinning.describe()}; load {result['machine']['load']}")
    pinning.pin_self()
    # an installed package has its bytecode compiled; a checkout on a machine that sets
    # PYTHONDONTWRITEBYTECODE would otherwise recompile every module at each start-up
    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    bench = scenarios.Bench(work, plan, pinning, node=not args.no_node, log=say)
    try:
        bench.start_upstream()
        say("recording the bench tapes through replaydeck")
        result["record"] = bench.record()
        steps = [("replay", bench.replay_speed), ("fidelity", bench.fidelity),
                 ("passthrough", bench.passthrough),
                 ("scale", lambda: bench.scale(args.work / "tapesets"))]
        for name, fn in steps:
            if only and name not in only:
                continue
            say(f"{name} ...")
            result[name] = fn()
        bench.stop_all()
        if args.peers:
            say("peers: running the shared harness (installs on first use)")
            result["peers"] = peers.run(mode, work, say)
    finally:
        bench.stop_all()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["load_after"] = list(os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"{stamp}-{mode}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    m = result["machine"]
    print()
    print(f"replaydeck bench, {mode}, {result['date']}; {m['cpu']} x{m['cores']}, "
          f"Python {m['python']}, uvicorn {m['uvicorn']}; {pinning.describe()}; "
          f"load average before {m['load'][0]:.2f}, after {result['load_after'][0]:.2f}; "
          f"{result['seconds']} s")
    print(table(result))
    if result.get("peers"):
        print()
        print(peers.table(result["peers"]))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
