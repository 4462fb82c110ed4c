"""The upstream side: routing a path to a base URL and the request target that goes
out on the request line. The client itself is ``proxy/upstream_client.py``: one
``UpstreamClient`` per app, created lazily inside the running loop, closed by
``ProxyApp.aclose``; it raises UpstreamError / UpstreamTimeout naming the upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from replaydeck.proxy.upstream_client import UpstreamClient

#: Kept as sent: RFC 3986 reserved and unreserved characters, and ``%`` (escapes).
_QUERY_SAFE = "!$&'()*+,/:;=?@[]~%"
#: The path arrives percent-decoded (ASGI ``path``): re-encode what is not a path character.
_PATH_SAFE = "!$&'()*+,/:;=@~"


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str  # "" for the default upstream
    base: str  # scheme://host[:port]
    base_path: str  # path part of the configured URL, e.g. "/v1" or ""

    def target(self, path: str, query: str) -> str:
        """The request target upstream: base path, path and query."""
        # Never double the base path: with an upstream of ".../v1", a client
        # path of "/v1/chat/completions" and one of "/chat/completions" both
        # reach ".../v1/chat/completions".
        bp = self.base_path
        if bp and not (path == bp or path.startswith(bp + "/")):
            path = bp + path
        return path + (f"?{query}" if query else "")

    def url(self, path: str, query: str) -> str:
        return self.base + self.target(path, query)

    @property
    def display(self) -> str:
        return self.base + self.base_path


def make_route(prefix: str, url: str) -> Route:
    parts = urlsplit(url)
    return Route(prefix, f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/"))


class Router:
    """Longest matching prefix wins; the default upstream takes the rest."""

    def __init__(self, default: str, routes: dict[str, str]) -> None:
        self.default = make_route("", default)
        self.routes = [
            make_route(p, u) for p, u in sorted(routes.items(), key=lambda kv: -len(kv[0]))
        ]

    def match(self, path: str) -> tuple[Route, str]:
        for route in self.routes:
            p = route.prefix
            if path == p or path.startswith(p + "/"):
                return route, path[len(p) :] or "/"
        return self.default, path


def request_target(route: Route, path: str, query: str, wire_path: str = "") -> str:
    """The upstream request target (path and query) for a client's request, as sent.

    The query is the client's own bytes (only characters that cannot appear in a
    request line are escaped); so is the path when the server gave it as sent
    (``wire_path``: ``a%2Fb`` stays one segment), else the decoded path is encoded again."""
    sent = quote(wire_path, safe=_QUERY_SAFE, encoding="latin-1") if wire_path else None
    return route.target(sent or quote(path, safe=_PATH_SAFE),
                        quote(query, safe=_QUERY_SAFE, encoding="latin-1"))


def make_client(connect_timeout: float, read_timeout: float) -> UpstreamClient:
    """The pooled upstream client; call it inside the running event loop."""
    return UpstreamClient(connect_timeout, read_timeout)
