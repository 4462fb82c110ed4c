"""What `replaydeck start` imports on its way to a healthy /health (and back down).

The start-up time is mostly imports, so the structural wins are pinned here rather
than with a timing assertion: the real command runs with Python's import log on
(PYTHONPROFILEIMPORTTIME) and the modules it loaded are read back from stderr.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_start import free_port, run_cli, wait_health

#: never needed by the proxy alone: the dashboard and its history, WebSockets, the
#: settings' former validation library, the other commands
PROXY_ONLY_NEVER = ("starlette", "sqlite3", "websockets", "replaydeck.dashboard", "replaydeck.history",
                    "pydantic", "replaydeck.cli.tapes", "replaydeck.cli.oneshot", "replaydeck.tapetools")


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
    for root in ("pydantic", "replaydeck.cli.tapes", "replaydeck.cli.oneshot"):
        assert not loaded(modules, root), loaded(modules, root)

