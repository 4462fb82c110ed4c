"""Composition root: Settings -> store, providers, proxy, control plane -> uvicorn.

The listening socket is bound here, before uvicorn starts, so that a port in use
is a clear error (never a silent switch to another port), and so that tests can
bind port 0 and read the real port back.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from replaydeck.errors import ConfigError
from replaydeck.proxy.app import ProxyApp
from replaydeck.proxy.control import ControlApp
from replaydeck.settings import Settings


def build_app(settings: Settings) -> ProxyApp:
    app = ProxyApp(settings)
    dashboard = None
    if settings.ui:
        from replaydeck.dashboard import build_dashboard  # starlette loads only with the UI

        dashboard = build_dashboard(app, settings)
    app.control = ControlApp(app, settings.host, dashboard, settings.dashboard_token)
    return app


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use; stop the other server or pick "
                f"another port with --port"
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    except socket.gaierror as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host!r}: {exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, *, websockets: bool = False, **kw: Any) -> uvicorn.Config:
    """replaydeck's uvicorn options.

    WebSockets only when the dashboard is served (its live feed): uvicorn's
    ``ws="auto"`` imports a WebSocket implementation at start-up, which the proxy
    alone never uses (with ``ws="none"`` an upgrade request is answered as plain
    HTTP)."""
    return uvicorn.Config(
        app,
        loop="auto",  # uvloop when installed (uvicorn[standard]), else asyncio
        http="auto",  # httptools when installed, else h11
        lifespan="on",
        access_log=False,
        log_level="warning",
        server_header=False,
        # replaydeck never reads the client address or scheme, so uvicorn's
        # X-Forwarded-* middleware would only add a layer to every request
        proxy_headers=False,
        date_header=False,
        timeout_graceful_shutdown=5,
        ws="auto" if websockets else "none",
        **kw,
    )


class Server:
    """A running replaydeck (proxy + control plane) on a bound socket."""

    def __init__(self, settings: Settings, sock: socket.socket | None = None) -> None:
        self.settings = settings
        self.sock = sock or bind_socket(settings.host, settings.port)
        self.port: int = self.sock.getsockname()[1]
        self.app = build_app(settings)
        self.uvicorn = uvicorn.Server(uvicorn_config(self.app, websockets=settings.ui))

    @property
    def url(self) -> str:
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        self.uvicorn.run(sockets=[self.sock])

    async def serve(self) -> None:
        await self.uvicorn.serve(sockets=[self.sock])


@contextmanager
def serve_in_thread(settings: Settings) -> Iterator[Server]:
    """Run a server in a background thread (tests, the pytest plugin, `run`)."""
    server = Server(settings)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    try:
        while not server.uvicorn.started:
            if not thread.is_alive():
                raise RuntimeError("replaydeck server failed to start")
            threading.Event().wait(0.01)
        yield server
    finally:
        server.uvicorn.should_exit = True
        thread.join(10)
        server.sock.close()
