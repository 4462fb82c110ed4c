"""Test helpers: real uvicorn servers on 127.0.0.1:0 in threads."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from replaydeck.server import serve_in_thread
from replaydeck.settings import Settings, load_settings

FAKE_KEYS = ("sk-test-FAKEKEY0123456789abcdef", "sk-ant-FAKEKEY0123456789abcdef",
             "AIzaFAKEKEY0123456789abcdefghijklmnop")


class ThreadServer:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("server did not start")
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@contextmanager
def running(app: Any) -> Iterator[ThreadServer]:
    srv = ThreadServer(app).start()
    try:
        yield srv
    finally:
        srv.stop()


def make_settings(tmp: Path, **kw: Any) -> Settings:
    flags = {"port": 0, "tapes_dir": str(tmp / "tapes"), "quiet": True, "ui": False,
             "timing": "instant"}
    flags.update(kw)
    return load_settings(flags, cwd=tmp, environ={})


@contextmanager
def proxy(tmp: Path, **kw: Any) -> Iterator[Any]:
    with serve_in_thread(make_settings(tmp, **kw)) as server:
        yield server


def tape_files(tmp: Path) -> list[Path]:
    d = tmp / "tapes"
    return sorted(p for p in d.glob("*.json") if not p.name.startswith(".")) if d.exists() else []


def settle(server: Any, timeout: float = 5.0) -> None:
    """Wait until recordings in flight are on disk (tapes are written just after
    the client has its answer, so a test that reads tapes at once waits here)."""
    import time

    deadline = time.time() + timeout
    while server.app.flights and time.time() < deadline:
        time.sleep(0.01)
