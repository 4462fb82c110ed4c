"""`replaydeck start` as a user runs it: a real process, real ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("REPLAYDECK_") and k != "CI"}
    e["PYTHONPATH"] = SRC
    e.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "replaydeck", *args], cwd=cwd, env=e, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


def wait_health(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.time() + 20
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(url + "/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("server did not become healthy")


def test_version(tmp_path: Path) -> None:
    p = run_cli(["--version"], tmp_path)
    out, _ = p.communicate(timeout=30)
    assert "replaydeck" in out and "0." in out


def test_banner_health_logs_and_port_in_use(tmp_path: Path) -> None:
    port = free_port()
    proc = run_cli(["start", "--port", str(port), "--no-ui", "--log-format", "json",
                    "--upstream", "http://127.0.0.1:9/v1"], tmp_path, env={"CI": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        wait_health(url, proc)
        r = httpx.post(url + "/v1/chat/completions", json={"model": "m", "messages": []})
        assert r.status_code == 404  # CI -> replay-only: a miss, never the upstream
        clash = run_cli(["start", "--port", str(port)], tmp_path)
        _, err = clash.communicate(timeout=30)
        assert clash.returncode == 1
        assert f"port {port}" in err and "already in use" in err and "Traceback" not in err
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "replay-only (CI is set and no record mode was given)" in err
    assert "OPENAI_BASE_URL=" in err and "ANTHROPIC_BASE_URL=" in err
    log = [ln for ln in err.splitlines() if ln.startswith("{")]
    assert any('"source":"miss"' in ln and '"status":404' in ln for ln in log)


def test_bad_flag_and_bad_config_are_clean_errors(tmp_path: Path) -> None:
    (tmp_path / "replaydeck.toml").write_text('record = "bogus"\n')
    p = run_cli(["start"], tmp_path)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1 and "record" in err and "replay-only" in err and "Traceback" not in err
    p = run_cli(["start", "--timing", "fast"], tmp_path.parent)
    _, err = p.communicate(timeout=30)
    assert p.returncode != 0 and "timing" in err and "Traceback" not in err
