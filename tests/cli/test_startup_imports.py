"""What `replaydeck start` imports on its way to a healthy /health (and back down).

The start-up time is mostly imports, so the structural wins are pinned here rather
than with a timing assertion: the real command runs with Python's import log on
(PYTHONPROFILEIMPORTTIME) and the modules it loaded are read back from stderr.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.cli.test_start import free_port, run_cli, wait_health
from tests.fakes.upstream import FakeUpstream
from tests.support import FAKE_KEYS, running

#: never needed by the proxy alone: the dashboard and its history, WebSockets, the
#: banner's former rich, the settings' former validation library, the other commands,
#: the former upstream clients aiohttp and yarl, and httpx (the tests' client)
PROXY_ONLY_NEVER = ("starlette", "sqlite3", "websockets", "replaydeck.dashboard", "replaydeck.history",
                    "rich", "pydantic", "replaydeck.cli.tapes", "replaydeck.cli.oneshot",
                    "replaydeck.tapetools", "aiohttp", "yarl", "httpx")


def imported_by_start(tmp_path: Path, *flags: str) -> set[str]:
    port = free_port()
    proc = run_cli(["start", "--port", str(port), "--upstream", "http://127.0.0.1:9",
                    "--record", "replay-only", "--quiet", *flags], tmp_path,
                   env={"PYTHONPROFILEIMPORTTIME": "1"})
    try:
        wait_health(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    return {line.rsplit("|", 1)[1].strip() for line in err.splitlines() if line.startswith("import time:")
            and "|" in line}


def loaded(modules: set[str], root: str) -> list[str]:
    return sorted(m for m in modules if m == root or m.startswith(root + "."))


def test_start_without_the_dashboard_imports_only_the_proxy(tmp_path: Path) -> None:
    modules = imported_by_start(tmp_path, "--no-ui")
    assert "uvicorn" in modules and "replaydeck.proxy.app" in modules  # the log was read
    for root in PROXY_ONLY_NEVER:
        assert not loaded(modules, root), loaded(modules, root)


def test_start_with_the_dashboard_loads_it_before_it_is_healthy(tmp_path: Path) -> None:
    modules = imported_by_start(tmp_path)
    # the dashboard answers at once when a browser opens it: nothing of it is left for later
    for root in ("starlette", "replaydeck.dashboard", "replaydeck.history", "sqlite3", "websockets"):
        assert loaded(modules, root), root
    for root in ("rich", "pydantic", "replaydeck.cli.tapes", "replaydeck.cli.oneshot"):
        assert not loaded(modules, root), loaded(modules, root)


def test_the_first_forwarded_request_imports_the_client_and_is_answered(tmp_path: Path) -> None:
    # `start` serves in the main thread, which is where the upstream client is imported
    fake = FakeUpstream()
    with running(fake) as up:
        port = free_port()
        proc = run_cli(["start", "--port", str(port), "--upstream", up.url, "--no-ui", "--quiet",
                        "--tapes-dir", str(tmp_path / "tapes")], tmp_path)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_health(url, proc)
            for _ in range(2):  # a miss recorded through the client, then its replay
                r = httpx.post(url + "/v1/chat/completions", json={"model": "m", "messages": [
                    {"role": "user", "content": "hi"}]}, headers={"authorization": f"Bearer {FAKE_KEYS[0]}"})
                assert r.status_code == 200 and r.json()["object"] == "chat.completion", r.text
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
        assert len(fake.calls) == 1
    assert len([p for p in (tmp_path / "tapes").glob("*.json") if not p.name.startswith(".")]) == 1
