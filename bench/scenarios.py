"""The scenarios of issue 6, each a function from a running setup to figures.

Every scenario starts the processes it needs, measures, and stops them (also on
failure). Comparisons run in alternating rounds (A B A B ...) within one run and
report medians, so slow drift on a shared machine hits both sides alike.
Figures are plain dicts so the table and results.json are made from the same data.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench import client, procs, tapes
from bench.procs import Pinning, Proc

STREAM_HEADERS = {"x-bench-chunks": "20", "x-bench-gap-ms": "20", "x-bench-ttfb-ms": "30"}


@dataclass(frozen=True)
class Plan:
    """How much each scenario does (``--smoke``, ``--quick`` or the full run)."""

    name: str
    rounds: int
    wrk_seconds: float
    n_latency: int
    n_pass: int
    n_first_event: int
    n_fidelity: int
    n_concurrent: int
    scale_tapes: int
    scale_small: int
    scale_distinct: int
    n_lookup: int
    n_startup: int


PLANS = {
    "smoke": Plan("smoke", 1, 1, 200, 100, 3, 1, 50, 2_000, 200, 500, 200, 1),
    "quick": Plan("quick", 1, 3, 1_000, 500, 5, 3, 200, 100_000, 1_000, 10_000, 1_000, 2),
    "full": Plan("full", 3, 5, 3_000, 2_000, 10, 10, 200, 100_000, 1_000, 10_000, 2_000, 3),
}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Bench:
    """One run: work directory, pinning, the fake upstream, and the processes started."""

    def __init__(self, work: Path, plan: Plan, pinning: Pinning, node: bool,
                 log: Any = print) -> None:
        self.work = work
        self.plan = plan
        self.pin = pinning
        self.node = node
        self.say = log
        self.procs: list[Proc] = []
        self.upstream_port = 0
        self.tapes = work / "tapes"
        self.ns_body = tapes.chat_body("bench request")
        self.ns_request = client.build_request(tapes.PATH, self.ns_body)
        self.body_file = work / "ns-body.json"
        self.body_file.write_bytes(self.ns_body)
        self.s20_request = client.build_request(
            tapes.PATH, tapes.chat_body("stream twenty", stream=True), STREAM_HEADERS)

    # ------------------------------------------------------------ processes

    def start(self, name: str, cmd: list[str]) -> Proc:
        p = Proc(name, cmd, self.work / "logs" / f"{name}.log", self.work, self.pin)
        self.procs.append(p)
        return p

    def stop(self, p: Proc) -> None:
        p.stop()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self) -> None:
        for p in list(self.procs):
            self.stop(p)

    @contextlib.contextmanager
    def replaydeck(self, name: str, record: str, timing: str = "instant",
                   tapes_dir: Path | None = None) -> Iterator[tuple[Proc, int]]:
        port = procs.free_port()
        p = self.start(name, procs.replaydeck_cmd(port, self.upstream_url, tapes_dir or self.tapes,
                                                  record, timing))
        try:
            procs.wait_http(port, "/health", 30, p)
            yield p, port
        finally:
            self.stop(p)

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}"

    def start_upstream(self) -> None:
        self.upstream_port = procs.free_port()
        p = self.start("upstream", procs.server_cmd("upstream", self.upstream_port))
        procs.wait_port(self.upstream_port, 30, p)

    # ------------------------------------------------------------ record

    def record(self) -> dict[str, Any]:
        """Record the bench tapes through replaydeck itself (auto mode)."""
        if self.tapes.exists():
            shutil.rmtree(self.tapes)
        with self.replaydeck("record", "auto") as (_, port):
            ns = client.one(port, self.ns_request)
            s20 = client.one(port, self.s20_request)
        if ns.status != 200 or s20.status != 200:
            raise RuntimeError(f"recording failed: {ns.status} / {s20.status}")
        found: dict[str, Any] = {}
        for f in sorted(self.tapes.glob("*.json")):
            if f.name.startswith("."):
                continue
            tape = orjson.loads(f.read_bytes())
            found["s20" if tape["request"].get("stream") else "ns"] = (f, tape)
        if set(found) != {"ns", "s20"}:
            raise RuntimeError(f"expected 2 tapes, found {sorted(found)} in {self.tapes}")
        self.ns_tape, self.s20_tape = found["ns"][0], found["s20"][1]
        return {"ns_bytes": len(ns.body), "s20_events": len(s20.events)}

    # ------------------------------------------------------------ replay speed

    def replay_speed(self) -> dict[str, Any]:
        plan = self.plan
        with self.replaydeck("replay", "replay-only") as (rd_proc, rd_port):
            ref = client.one(rd_port, self.ns_request)
            body_file = self.work / "limit-body.bin"
            body_file.write_bytes(bytes(ref.body))
            spec = self.work / "limit-reply.json"
            spec.write_text(json.dumps({
                "status": ref.status, "body_file": str(body_file),
                "headers": [[k, v] for k, v in ref.headers
                            if k.lower() not in ("content-length", "date", "server")]}))
            targets = {"replaydeck": rd_port}
            pids = {"replaydeck": rd_proc}
            lp = procs.free_port()
            limit = self.start("limit-uvicorn", procs.server_cmd("limit", lp, "--reply", str(spec)))
            procs.wait_port(lp, 30, limit)
            targets["limit-uvicorn"] = lp
            pids["limit-uvicorn"] = limit
            if self.node and shutil.which("node"):
                npt = procs.free_port()
                node = self.start("limit-node", ["node", str(procs.BENCH / "limit_node.js"),
                                                 str(npt), str(spec)])
                procs.wait_port(npt, 30, node)
                targets["limit-node"] = npt
                pids["limit-node"] = node
            for name, port in targets.items():  # same bytes from every target
                got = client.one(port, self.ns_request)
                if got.status != 200 or bytes(got.body) != bytes(ref.body):
                    raise RuntimeError(f"{name} does not serve the replayed bytes")
            for port in targets.values():  # warm-up
                procs.wrk(port, self.body_file, 32, 1, self.pin)
            rps: dict[str, list[float]] = {t: [] for t in targets}
            p50: dict[str, list[float]] = {t: [] for t in targets}
            p99: dict[str, list[float]] = {t: [] for t in targets}
            cpu: dict[str, list[float]] = {t: [] for t in targets}
            errors = 0
            for _ in range(plan.rounds):
                for name, port in targets.items():
                    w = procs.wrk(port, self.body_file, 32, plan.wrk_seconds, self.pin)
                    rps[name].append(w["rps"])
                    errors += w["non2xx"] + w["socket_errors"]
                for name, port in targets.items():
                    c0 = pids[name].cpu_seconds()
                    lat = client.latencies(port, self.ns_request, plan.n_latency, 30)
                    cpu[name].append((pids[name].cpu_seconds() - c0) / len(lat) * 1e6)
                    p50[name].append(pct(lat, 0.5))
                    p99[name].append(pct(lat, 0.99))
            for p in list(self.procs):
                if p.name.startswith("limit"):
                    self.stop(p)
        return {
            "reply_bytes": len(ref.body), "wrk_errors": errors,
            "rps_c32": {t: med(v) for t, v in rps.items()},
            "p50_us": {t: med(v) for t, v in p50.items()},
            "p99_us": {t: med(v) for t, v in p99.items()},
            "server_cpu_us": {t: med(v) for t, v in cpu.items()},
            "rounds": {"rps_c32": rps, "p50_us": p50},
        }

    # ------------------------------------------------------------ timing fidelity

    def expected_events(self) -> tuple[float, list[float]]:
        """(TTFB ms, expected arrival ms of each SSE event) from the recorded tape."""
        chunks = self.s20_tape["response"]["chunks"]
        t = 0.0
        times: list[float] = []
        for i, c in enumerate(chunks):
            t += float(c["d"])
            text = c["c"] if isinstance(c["c"], str) else ""
            times += [t] * text.count("\n\n")
            if i == 0:
                ttfb = t
        return ttfb, times

    def _errors(self, replies: list[client.Reply]) -> tuple[list[float], list[float]]:
        ttfb, expect = self.expected_events()
        gaps_want = [b - a for a, b in zip(expect, expect[1:], strict=False)]
        gap_err: list[float] = []
        ttfb_err: list[float] = []
        for r in replies:
            if r.status != 200 or r.first_byte is None:
                raise RuntimeError(f"streamed replay failed: {r.status}")
            ttfb_err.append(abs((r.first_byte - r.sent) * 1000 - ttfb))
            got = [(b - a) * 1000 for a, b in zip(r.events, r.events[1:], strict=False)]
            if len(got) != len(gaps_want):
                raise RuntimeError(f"replayed {len(r.events)} events, recorded {len(expect)}")
            gap_err += [abs(g - w) for g, w in zip(got, gaps_want, strict=True)]
        return ttfb_err, gap_err

    def fidelity(self) -> dict[str, Any]:
        plan = self.plan
        with self.replaydeck("replay-original", "replay-only", "original") as (_, port):
            replies = []
            for _ in range(plan.n_fidelity):
                conn = client.Connection(port)
                try:
                    replies.append(conn.request(self.s20_request))
                finally:
                    conn.close()
            ttfb_err, gap_err = self._errors(replies)
            conc_gap: list[float] = []
            conc_ttfb: list[float] = []
            for _ in range(plan.rounds):
                many = client.concurrent_streams(port, self.s20_request, plan.n_concurrent)
                t_err, g_err = self._errors(many)
                conc_gap += g_err
                conc_ttfb += t_err
        ttfb, expect = self.expected_events()
        return {
            "recorded_ttfb_ms": ttfb, "recorded_events": len(expect),
            "gap_err_median_ms": med(gap_err), "gap_err_p95_ms": pct(gap_err, 0.95),
            "ttfb_err_median_ms": med(ttfb_err),
            "concurrent": plan.n_concurrent,
            "concurrent_gap_err_median_ms": med(conc_gap),
            "concurrent_gap_err_p95_ms": pct(conc_gap, 0.95),
            "concurrent_ttfb_err_median_ms": med(conc_ttfb),
        }

    # ------------------------------------------------------------ passthrough

    def passthrough(self) -> dict[str, Any]:
        plan = self.plan
        scratch = self.work / "tapes-passthrough"
        if scratch.exists():
            shutil.rmtree(scratch)
        stream_req = client.build_request(tapes.PATH, tapes.chat_body("pass stream", True),
                                          {"x-bench-chunks": "20", "x-bench-gap-ms": "20"})
        with contextlib.ExitStack() as stack:
            _, off = stack.enter_context(self.replaydeck("pass-off", "off", tapes_dir=scratch))
            _, rec = stack.enter_context(self.replaydeck("pass-record", "auto",
                                                         tapes_dir=scratch / "rec"))
            targets = {"direct": self.upstream_port, "off": off, "record": rec}
            for port in targets.values():  # warm-up: connections, code paths
                client.latencies(port, self.ns_request, 50, 10)
            p50: dict[str, list[float]] = {t: [] for t in targets}
            first: dict[str, list[float]] = {t: [] for t in targets}
            serial = 0
            for rnd in range(plan.rounds):
                for name, port in targets.items():
                    if name == "record":  # every request a miss: a new tape each time
                        reqs = [client.build_request(tapes.PATH, tapes.chat_body(
                            f"miss {rnd} {i}")) for i in range(plan.n_pass)]
                    else:
                        reqs = [self.ns_request]
                    lat = client.latencies(port, reqs, plan.n_pass, 60)
                    p50[name].append(pct(lat, 0.5))
                for name, port in targets.items():
                    for _ in range(plan.n_first_event):
                        serial += 1
                        req = stream_req if name != "record" else client.build_request(
                            tapes.PATH, tapes.chat_body(f"stream miss {serial}", True),
                            {"x-bench-chunks": "20", "x-bench-gap-ms": "20"})
                        r = client.one(port, req)
                        if r.status != 200 or not r.events:
                            raise RuntimeError(f"stream via {name}: status {r.status}")
                        first[name].append((r.events[0] - r.sent) * 1e6)
        direct = p50["direct"]
        added = {t: med([a - b for a, b in zip(p50[t], direct, strict=True)])
                 for t in ("off", "record")}
        fe = {t: med(v) for t, v in first.items()}
        return {
            "p50_us": {t: med(v) for t, v in p50.items()},
            "added_p50_us": added,
            "first_event_us": fe,
            "first_event_added_us": {t: fe[t] - fe["direct"] for t in ("off", "record")},
        }

    # ------------------------------------------------------------ scale

    def scale(self, cache: Path) -> dict[str, Any]:
        plan = self.plan
        keys = tapes.KeyMaker()
        big = cache / f"scale-{plan.scale_tapes}"
        small = cache / f"scale-{plan.scale_small}"
        gen = tapes.generate(self.ns_tape, big, plan.scale_tapes, keys)
        gen += tapes.generate(self.ns_tape, small, plan.scale_small, keys)
        empty = self.work / "tapes-empty"
        empty.mkdir(exist_ok=True)
        startup: dict[str, list[float]] = {"empty": [], "big": []}
        for _ in range(plan.n_startup):
            for name, d in (("empty", empty), ("big", big)):
                port = procs.free_port()
                p = self.start(f"startup-{name}", procs.replaydeck_cmd(
                    port, self.upstream_url, d, "replay-only", "instant"))
                try:
                    startup[name].append(procs.wait_http(port, "/health", 30, p))
                finally:
                    self.stop(p)
        n = min(plan.n_lookup, plan.scale_small)

        def first_touch(port: int, start: int, count: int) -> list[float]:
            reqs = [client.build_request(tapes.PATH, tapes.scale_body(i))
                    for i in range(start, start + count)]
            return client.latencies(port, reqs, count, 120)

        with self.replaydeck("scale-small", "replay-only", tapes_dir=small) as (_, sp):
            small_lat = first_touch(sp, 0, n)
        with self.replaydeck("scale-big", "replay-only", tapes_dir=big) as (proc, bp):
            rss_start = proc.rss_mb()
            big_lat = first_touch(bp, 0, n)
            distinct = min(plan.scale_distinct, plan.scale_tapes)
            if distinct > n:
                first_touch(bp, n, distinct - n)
            hot = client.latencies(bp, client.build_request(tapes.PATH, tapes.scale_body(0)),
                                   min(1000, plan.n_latency), 30)
            time.sleep(0.2)
            rss = proc.rss_mb()
        return {
            "tapes": plan.scale_tapes, "small_tapes": plan.scale_small, "generate_s": gen,
            "startup_s": {k: med(v) for k, v in startup.items()},
            "lookup_p50_us": {"small": pct(small_lat, 0.5), "big": pct(big_lat, 0.5),
                              "hot": pct(hot, 0.5)},
            "lookup_n": n, "distinct_replayed": distinct,
            "rss_mb": {"start": rss_start, "after": rss},
        }
