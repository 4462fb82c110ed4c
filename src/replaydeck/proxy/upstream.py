"""The upstream side: routing a path to a base URL, the pooled HTTP client, and
the one place where httpx errors become replaydeck errors.

httpx is imported on first use (the first forwarded request), not at start-up:
it was about a quarter of the start-up to a healthy /health, and a proxy that
only replays never needs it. It is never imported from a helper thread: an
earlier preload in a worker thread raced with the host process importing it
too and produced half-initialised modules. `replaydeck start` serves in the
main thread; ``serve_in_thread`` calls ``import_client()`` in the caller's
thread before it starts the server's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from replaydeck.errors import UpstreamError, UpstreamTimeout

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class Route:
    prefix: str  # "" for the default upstream
    base: str  # scheme://host[:port]
    base_path: str  # path part of the configured URL, e.g. "/v1" or ""

    def url(self, path: str, query: str) -> str:
        # Never double the base path: with an upstream of ".../v1", a client
        # path of "/v1/chat/completions" and one of "/chat/completions" both
        # reach ".../v1/chat/completions".
        bp = self.base_path
        if bp and not (path == bp or path.startswith(bp + "/")):
            path = bp + path
        return f"{self.base}{path}" + (f"?{query}" if query else "")

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


def import_client() -> None:
    """Import the HTTP client library now, in the calling thread (see the module docstring)."""
    import httpx  # noqa: F401  (the import is the point)


def make_client(connect_timeout: float, read_timeout: float) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
        follow_redirects=False,
        trust_env=False,  # a proxy is configured explicitly, never picked up by surprise
    )


@contextmanager
def map_upstream_errors(upstream: str) -> Iterator[None]:
    """Translate httpx's exceptions into UpstreamError / UpstreamTimeout naming the upstream."""
    import httpx

    try:
        yield
    except httpx.TimeoutException as exc:
        what = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
        raise UpstreamTimeout(f"timed out {what} upstream {upstream}", upstream) from exc
    except httpx.ConnectError as exc:
        raise UpstreamError(f"cannot connect to upstream {upstream}: {exc or 'refused'}", upstream) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise UpstreamError(
            f"upstream {upstream} broke the connection: {exc or type(exc).__name__}", upstream
        ) from exc
    except httpx.DecodingError as exc:
        raise UpstreamError(f"upstream {upstream} sent a body that cannot be decoded: {exc}", upstream) from exc
    except httpx.HTTPError as exc:
        raise UpstreamError(f"upstream {upstream} failed: {exc or type(exc).__name__}", upstream) from exc
