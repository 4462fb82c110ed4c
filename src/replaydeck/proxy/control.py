"""The control plane: replaydeck's own endpoints, all under one reserved prefix.

``/__replaydeck/...`` cannot collide with an upstream API path; ``/health`` is an
alias kept for playingpack users. Every request here passes the guard first:

* the Host header must name this server (loopback names or the bound address),
  which defeats DNS rebinding;
* a request that changes something must come from our own origin
  (Sec-Fetch-Site / Origin), which defeats cross-site requests;
* no response carries CORS headers, so other sites cannot read anything;
* when bound to an address other than loopback, a random token (printed at
  start-up) is required: ``/?token=...`` trades it for a ``SameSite=Strict``,
  httponly cookie, scripts may send it as ``X-Replaydeck-Token`` instead. On a
  wildcard bind (0.0.0.0) a Host that is an IP literal is accepted too: a DNS
  rebinding attack always arrives with the attacker's host *name*.

The dashboard (``replaydeck.dashboard``) mounts behind the same guard; only
``/health`` answers without the token (it reveals nothing but the mode).
"""

from __future__ import annotations

import ipaddress
import secrets
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import orjson

from replaydeck._version import __version__

PREFIX = "/__replaydeck"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
COOKIE = "replaydeck_token"
TOKEN_HEADER = b"x-replaydeck-token"


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() in ("localhost", "127.0.0.1", "::1"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


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
    if bound_host not in WILDCARD_HOSTS:
        allowed.add(bound_host.lower())
        allowed.add(f"[{bound_host.lower()}]")
    elif _is_ip_literal(name):
        return True  # reached by address on a wildcard bind (the token guards it)
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


def host_of(scope: dict[str, Any]) -> str | None:
    """The Host header, or None when absent or repeated (two Hosts: refuse, never guess)."""
    hosts = [v for k, v in scope["headers"] if k == b"host"]
    return str(hosts[0].decode("latin-1")) if len(hosts) == 1 else None


def request_token(scope: dict[str, Any]) -> str | None:
    """The token a request carries: header first, then the cookie."""
    header = _header(scope, TOKEN_HEADER)
    if header:
        return header
    raw = _header(scope, b"cookie")
    if raw:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except Exception:  # a malformed Cookie header is just no token
            return None
        if COOKIE in jar:
            return jar[COOKIE].value
    return None


async def send_json(send: Any, status: int, value: Any,
                    extra: list[tuple[bytes, bytes]] | None = None) -> None:
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
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ControlApp:
    """Guard + built-in endpoints; anything else goes to the dashboard app, if any."""

    def __init__(self, proxy: Any, bound_host: str, dashboard: Any = None,
                 token: str | None = None) -> None:
        self.proxy = proxy
        self.bound_host = bound_host
        self.dashboard = dashboard
        #: required off loopback; None when bound to loopback (the Host check suffices)
        self.token: str | None = None
        if not is_loopback(bound_host):
            self.token = token or secrets.token_urlsafe(24)

    def login_url(self, base: str) -> str:
        return f"{base}/?token={self.token}" if self.token else f"{base}/"

    def authorized(self, scope: dict[str, Any]) -> bool:
        if self.token is None:
            return True
        given = request_token(scope)
        return given is not None and secrets.compare_digest(given.encode(), self.token.encode())

    async def _login(self, scope: dict[str, Any], send: Any) -> bool:
        """``GET /?token=...``: set the cookie and redirect to the bare URL."""
        if self.token is None or scope["path"] != "/" or scope["method"] != "GET":
            return False
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        given = query.get("token")
        if not given or not secrets.compare_digest(given.encode(), self.token.encode()):
            return False
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await send({"type": "http.response.start", "status": 303, "headers": [
            (b"location", b"/"), (b"set-cookie", cookie.encode()),
            (b"cache-control", b"no-store"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            if (not host_allowed(host_of(scope), self.bound_host)
                    or not same_origin(scope) or not self.authorized(scope)):
                await send({"type": "websocket.close", "code": 1008})
                return
            if self.dashboard is not None:
                await self.dashboard(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if not host_allowed(host_of(scope), self.bound_host):
            await send_json(send, 403,
                            {"error": {"message": "forbidden host", "type": "forbidden"}})
            return
        method = scope["method"]
        if method not in SAFE_METHODS and not same_origin(scope):
            await send_json(
                send, 403, {"error": {"message": "cross-site request refused", "type": "forbidden"}}
            )
            return
        path = scope["path"]
        if await self._login(scope, send):
            return
        if path not in ("/health", PREFIX + "/health") and not self.authorized(scope):
            await send_json(send, 401, {"error": {
                "message": "this dashboard needs the token printed when replaydeck started "
                           "(open the URL shown there)", "type": "unauthorized"}})
            return
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
        await send_json(send, 404,
                        {"error": {"message": f"no such endpoint {path}", "type": "not_found"}})
