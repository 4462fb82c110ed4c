"""Processes the bench starts, pins, waits for and stops; wrk; memory readings.

Rules:
- every server binds 127.0.0.1 and runs in its own session; it is stopped by its
  own PID (SIGINT, then SIGTERM, then SIGKILL), also when the bench fails;
- servers are pinned to one core and load generators (wrk, and this process,
  which runs the latency client) to the other when the machine has two;
- replaydeck runs from this checkout (``sys.executable -m replaydeck`` with
  ``src`` first on PYTHONPATH), in a scratch working directory so no
  ``replaydeck.toml`` and no ``REPLAYDECK_*``/``CI`` variable changes its settings.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
HOST = "127.0.0.1"


class Pinning:
    """Which cores servers and load generators use (None: no pinning)."""

    def __init__(self, enabled: bool = True) -> None:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.taskset = shutil.which("taskset")
        if enabled and self.taskset and len(cpus) >= 2:
            self.loadgen: int | None = cpus[0]
            self.server: int | None = cpus[1]
        else:
            self.loadgen = self.server = None
        self.cpus = cpus

    def describe(self) -> str:
        if self.server is None:
            return "not pinned"
        return f"servers on CPU {self.server}, load generators on CPU {self.loadgen}"

    def pin_self(self) -> None:
        if self.loadgen is not None:
            os.sched_setaffinity(0, {self.loadgen})

    def prefix(self, cpu: int | None) -> list[str]:
        return [self.taskset, "-c", str(cpu)] if cpu is not None and self.taskset else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("REPLAYDECK_") and k not in ("CI", "PYTHONSTARTUP")
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["PYTHONPATH"] = str(ROOT / "src") + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


class Proc:
    def __init__(self, name: str, cmd: list[str], log: Path, cwd: Path,
                 pinning: Pinning, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(log, "ab")  # closed in stop()
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            pinning.prefix(pinning.server) + cmd, cwd=cwd, env=clean_env(env),
            stdin=subprocess.DEVNULL, stdout=self._fh, stderr=self._fh, start_new_session=True,
        )
        self.pid = self.popen.pid  # taskset execs the command: same PID

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        for sig, grace in ((signal.SIGINT, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            if not self.alive():
                break
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                continue
        self._fh.close()

    def cpu_seconds(self) -> float:
        """User + system CPU time this process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        text = Path(f"/proc/{self.pid}/status").read_text()
        m = re.search(r"VmRSS:\s+(\d+) kB", text)
        return int(m.group(1)) / 1024.0 if m else float("nan")


def wait_http(port: int, path: str, timeout: float, proc: Proc | None = None) -> float:
    """Poll until GET path answers 200; returns the seconds since the process started."""
    deadline = time.perf_counter() + timeout
    url = f"http://{HOST}:{port}{path}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.perf_counter() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited at start-up; see {proc.log}")
        try:
            with opener.open(url, timeout=1.0) as r:
                if r.status == 200:
                    return time.perf_counter() - (proc.started if proc else 0.0)
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"nothing answered {url} within {timeout} s")


def wait_port(port: int, timeout: float, proc: Proc | None = None) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited at start-up; see {proc.log}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout} s")


def replaydeck_cmd(port: int, upstream: str, tapes: Path, record: str, timing: str) -> list[str]:
    return [sys.executable, "-m", "replaydeck", "start", "--port", str(port), "--host", HOST,
            "--upstream", upstream, "--tapes-dir", str(tapes), "--no-ui", "--record", record,
            "--timing", timing]


def server_cmd(kind: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, str(BENCH / "servers.py"), kind, "--port", str(port), *extra]


# ---------------------------------------------------------------- wrk

_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKERR = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def wrk(port: int, body_file: Path, conns: int, seconds: float, pinning: Pinning,
        threads: int = 1) -> dict[str, Any]:
    """Requests/s of POST /v1/chat/completions with the body in ``body_file``."""
    exe = os.environ.get("WRK") or shutil.which("wrk")
    if not exe:
        raise RuntimeError("wrk not found: apt-get install -y wrk (or set WRK=/path/to/wrk)")
    cmd = pinning.prefix(pinning.loadgen) + [
        exe, f"-t{threads}", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency",
        "-s", str(BENCH / "post.lua"), f"http://{HOST}:{port}/v1/chat/completions",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30,
                         env=dict(os.environ, WRK_BODY_FILE=str(body_file)), check=False)
    m = _RPS.search(out.stdout)
    if out.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed: {out.stderr.strip() or out.stdout.strip()}")
    non2xx = int(m2.group(1)) if (m2 := _NON2XX.search(out.stdout)) else 0
    sock = sum(int(x) for x in m3.groups()) if (m3 := _SOCKERR.search(out.stdout)) else 0
    return {"rps": float(m.group(1)), "non2xx": non2xx, "socket_errors": sock}
