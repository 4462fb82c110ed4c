"""The control plane: replaydeck's own endpoints, all under one reserved prefix.

``/__replaydeck/...`` cannot collide with an upstream API path; ``/health`` is an
alias kept for playingpack users. Every request here passes the guard first:

* the Host header must name this server (loopback names or the bound address),
  which defeats DNS rebinding;
* a request that changes something must come from our own origin
  (Sec-Fetch-Site / Origin), which defeats cross-site requests;
* no response carries CORS headers, so other sites cannot read anything.

The dashboard (a later, larger app) mounts behind the same guard.
"""

from __future__ import annotations

from typing import Any

import orjson

from replaydeck._version import __version__

PREFIX = "/__replaydeck"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return str(v.decode("latin-1"))
    return None


def host_allowed(host_header: str | None, bound_host: str) -> bool:
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):
        name = host[: host.find("]") + 1] if "]" in host else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    allowed = set(LOOPBACK_NAMES)
    if bound_host not in ("0.0.0.0", "::", ""):
        allowed.add(bound_host.lower())
        allowed.add(f"[{bound_host.lower()}]")
    return name in allowed


def same_origin(scope: dict[str, Any]) -> bool:
    """True unless the browser tells us the request comes from another site."""
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = _header(scope, b"origin")
    if origin is None:
        return True  # not a browser's cross-site request (browsers send Origin on those)
    if origin == "null":
        return False
    host = _header(scope, b"host") or ""
    return origin.split("://", 1)[-1].rstrip("/").lower() == host.lower()


async def send_json(send: Any, status: int, value: Any) -> None:
    body = orjson.dumps(value)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ControlApp:
    """Guard + built-in endpoints; anything else goes to the dashboard app, if any."""

    def __init__(self, proxy: Any, bound_host: str, dashboard: Any = None) -> None:
        self.proxy = proxy
        self.bound_host = bound_host
        self.dashboard = dashboard

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            if not host_allowed(_header(scope, b"host"), self.bound_host) or not same_origin(scope):
                await send({"type": "websocket.close", "code": 1008})
                return
            if self.dashboard is not None:
                await self.dashboard(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if not host_allowed(_header(scope, b"host"), self.bound_host):
            await send_json(send, 403, {"error": {"message": "forbidden host", "type": "forbidden"}})
            return
        method = scope["method"]
        if method not in SAFE_METHODS and not same_origin(scope):
            await send_json(
                send, 403, {"error": {"message": "cross-site request refused", "type": "forbidden"}}
            )
            return
        path = scope["path"]
        if path in ("/health", PREFIX + "/health"):
            await send_json(
                send,
                200,
                {"status": "ok", "version": __version__, "mode": self.proxy.runtime.mode.value},
            )
            return
        if path == PREFIX + "/api/sequences/reset" and method == "POST":
            self.proxy.reset_sequences()
            await send_json(send, 200, {"reset": True})
            return
        if self.dashboard is not None:
            await self.dashboard(scope, receive, send)
            return
        if path == "/" or path in (PREFIX, PREFIX + "/"):
            await send_json(
                send,
                200,
                {
                    "replaydeck": __version__,
                    "mode": self.proxy.runtime.mode.value,
                    "dashboard": "disabled (--no-ui)",
                },
            )
            return
        await send_json(send, 404, {"error": {"message": f"no such endpoint {path}", "type": "not_found"}})
