"""Running `python -m replaydeck ...` in a subprocess, the way a user runs it.

`serving()` starts a server command on port 0, waits for its "listening on URL"
line on stderr and yields a handle with the URL and the stdout lines seen so far;
on exit it sends SIGINT (a clean uvicorn shutdown) and collects the rest.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = str(SRC) + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    out["PYTHONUNBUFFERED"] = "1"
    return out


def run(*args: str, cwd: Path | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "replaydeck", *args], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=timeout)


class Served:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.url = ""
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._ready = threading.Event()
        self._out = threading.Thread(target=self._pump, args=(proc.stdout, self.stdout),
                                     daemon=True)
        self._err = threading.Thread(target=self._pump, args=(proc.stderr, self.stderr),
                                     daemon=True)

    def _pump(self, stream: object, sink: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink.append(line.rstrip("\n"))
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                self._ready.set()

    def wait_stdout(self, count: int, timeout: float = 30) -> list[str]:
        """The stdout lines, once there are ``count`` of them (fails with stderr if not)."""
        deadline = time.monotonic() + timeout
        while len(self.stdout) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.stdout) >= count, f"stdout {self.stdout}, stderr {self.stderr}"
        return list(self.stdout)


@contextmanager
def serving(*args: str, cwd: Path | None = None, extra_env: dict[str, str] | None = None,
            command: list[str] | None = None) -> Iterator[Served]:
    full_env = env()
    full_env.update(extra_env or {})
    cmd = command or [sys.executable, "-m", "replaydeck", *args]
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    served = Served(proc)
    served._out.start()
    served._err.start()
    try:
        deadline = time.monotonic() + 30
        while not served._ready.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                served._err.join(2)
                raise RuntimeError("server did not start:\n" + "\n".join(served.stderr))
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        served._out.join(5)
        served._err.join(5)
