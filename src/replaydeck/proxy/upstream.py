"""The upstream side: routing a path to a base URL, the pooled HTTP client, and
the one place where the client library's errors become replaydeck errors.

The client is an ``aiohttp.ClientSession`` (one per app, created lazily inside the
running loop, closed by ``ProxyApp.aclose``): per forwarded request it costs about
a sixth of the instructions httpx/httpcore/anyio/h11 did (docs/performance.md).
Rules it is configured for, so the upstream sees what the client sent:
- no header of its own: no User-Agent, Accept or default Content-Type is added;
  only Host, Content-Length and Accept-Encoding (the encodings it decodes; the
  proxy relays every body decoded) are set by the client;
- the URL goes out as the client wrote it (``encoded=True``: nothing re-quoted);
- no cookie jar, no redirects followed, no proxy taken from the environment;
- connect and per-read timeouts only: a stream may run as long as it keeps talking.

aiohttp is imported on first use (the first forwarded request), not at start-up:
it (with the TLS context it builds at import) costs about 0.6G instructions, a
proxy that only replays never needs it. It is never imported from a helper
thread: an earlier preload in a worker thread raced with the host process
importing the same library and produced half-initialised modules. `replaydeck
start` serves in the main thread; ``serve_in_thread`` calls ``import_client()``
in the caller's thread before it starts the server's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from replaydeck.errors import UpstreamError, UpstreamTimeout

if TYPE_CHECKING:
    import aiohttp
    import yarl

#: Headers the client library would add on its own; the proxy forwards the client's.
_SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Content-Type")

#: Kept as sent: RFC 3986 reserved and unreserved characters, and ``%`` (escapes).
_QUERY_SAFE = "!$&'()*+,/:;=?@[]~%"
#: The path arrives percent-decoded (ASGI ``path``): re-encode what is not a path character.
_PATH_SAFE = "!$&'()*+,/:;=@~"


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
    import aiohttp  # noqa: F401  (the import is the point)


def target_url(route: Route, path: str, query: str, wire_path: str = "") -> yarl.URL:
    """The upstream URL for a client's path and raw query, never re-quoted on the way out.

    The query is the client's own bytes (only characters that cannot appear in a
    request line are escaped); so is the path when the server gave it as sent
    (``wire_path``: ``a%2Fb`` stays one segment), else the decoded path is encoded again."""
    import yarl  # a plain import of a loaded module: a dict lookup per request

    sent = quote(wire_path, safe=_QUERY_SAFE, encoding="latin-1") if wire_path else None
    return yarl.URL(route.url(sent or quote(path, safe=_PATH_SAFE),
                         quote(query, safe=_QUERY_SAFE, encoding="latin-1")), encoded=True)


def make_client(connect_timeout: float, read_timeout: float) -> aiohttp.ClientSession:
    """The pooled upstream client; call it inside the running event loop."""
    import aiohttp

    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),  # no pool cap: each client has its call
        timeout=aiohttp.ClientTimeout(total=None, connect=connect_timeout,
                                      sock_read=read_timeout),
        skip_auto_headers=_SKIP_AUTO_HEADERS,
        cookie_jar=aiohttp.DummyCookieJar(),  # one client's cookies never reach another's call
        auto_decompress=True,
        trust_env=False,  # a proxy is configured explicitly, never picked up by surprise
        # header limits as generous as a browser's: an upstream's long header is not an error
        max_line_size=65536,
        max_field_size=65536,
    )


@contextmanager
def map_upstream_errors(upstream: str) -> Iterator[None]:
    """Translate aiohttp's exceptions into UpstreamError / UpstreamTimeout naming the upstream;
    any other exception passes unchanged."""
    try:
        yield
    except Exception as exc:
        err = upstream_error(exc, upstream)
        if err is None:
            raise
        raise err from exc


def upstream_error(exc: Exception, upstream: str) -> UpstreamError | None:
    """The replaydeck error for one of aiohttp's, or None for anything else."""
    import aiohttp  # only on the error path: aiohttp is loaded once a request went out
    from aiohttp.http_exceptions import ContentEncodingError

    if isinstance(exc, TimeoutError):  # aiohttp.ServerTimeoutError and its kinds
        what = "connecting to" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "waiting for"
        return UpstreamTimeout(f"timed out {what} upstream {upstream}", upstream)
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or str(exc.os_error) or "refused"
        return UpstreamError(f"cannot connect to upstream {upstream}: {reason}", upstream)
    if isinstance(exc, aiohttp.ClientPayloadError):
        if isinstance(exc.__cause__, ContentEncodingError) or "ContentEncodingError" in str(exc):
            return UpstreamError(f"upstream {upstream} sent a body that cannot be decoded: {exc}",
                                 upstream)
        return UpstreamError(f"upstream {upstream} broke the connection: {exc}", upstream)
    if isinstance(exc, aiohttp.ClientConnectionError):  # disconnected, reset mid-write
        return UpstreamError(
            f"upstream {upstream} broke the connection: {exc or type(exc).__name__}", upstream)
    if isinstance(exc, aiohttp.ClientResponseError):  # not a valid HTTP response
        return UpstreamError(
            f"upstream {upstream} sent an invalid response: {exc.message or type(exc).__name__}",
            upstream)
    if isinstance(exc, aiohttp.ClientError):
        return UpstreamError(f"upstream {upstream} failed: {exc or type(exc).__name__}", upstream)
    return None
