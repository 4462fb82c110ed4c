"""The upstream HTTP/1.1 client: a keep-alive pool of asyncio connections whose
answers are parsed by httptools (llhttp, the parser uvicorn runs on our other side).

Why not a general client library: a forwarded request is the proxy's hot path, and
the general clients spend most of its cost on what a proxy never uses (cookie jars,
redirects, multidicts, URL objects, per-request timer objects). Measured per
forwarded request in mode off (docs/performance.md): httpx about 2.3M instructions,
aiohttp about 0.35M, this module about 0.05M. The parsing itself stays in llhttp.

What it does:
- HTTP/1.1 over TCP or TLS (certificates checked against the system's CA store,
  SNI). One exchange per connection at a time; idle connections are kept per origin
  (last used first) and dropped as soon as the upstream closes them. A request sent
  on a reused connection that closes before any byte of the answer is sent once
  more on a new connection (the upstream closed it while idle: the race every
  keep-alive client has).
- The request goes out as given: the method, the target exactly as the client wrote
  it, the client's headers in order, plus Host, Content-Length (when there is a body
  or the method carries one) and Accept-Encoding (only the codings decoded here:
  the proxy relays, records and inspects every body decoded).
- Bodies framed by Content-Length, chunked, or the end of the connection; 1xx
  answers are skipped; HEAD, 204 and 304 answers have no body.
- Each piece of body is handed over as soon as it is parsed, cut where the upstream
  cut it (one HTTP chunk, one piece): events sent back to back stay separate.
- Timeouts: connecting (TCP and TLS), and each wait for the upstream's next bytes;
  a stream may run as long as it keeps talking.
- Flow control: reading pauses while more than 1 MiB of the answer is unread.
- Every failure is an UpstreamError or UpstreamTimeout naming the upstream.
"""

from __future__ import annotations

import asyncio
import os
import socket
import zlib
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httptools

from replaydeck.errors import UpstreamError, UpstreamTimeout
from replaydeck.wire.http import relay_response_headers

if TYPE_CHECKING:
    import ssl

#: The codings this client decodes, so the only ones it asks for.
ACCEPT_ENCODING = b"gzip, deflate"
#: Methods whose request carries a body: an empty one still gets ``Content-Length: 0``.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_HIGH_WATER = 1 << 20  # unread answer bytes at which reading pauses
_LOW_WATER = 1 << 18  # ... and resumes
_MAX_IDLE = 64  # idle connections kept per origin
_JOIN_LIMIT = 1 << 16  # a body up to this size goes out in the same write as the head

_HEAD, _BODY, _DONE, _FAILED = range(4)


def ssl_errors() -> tuple[type[Exception], ...]:
    import ssl  # loaded already whenever a TLS error can happen

    return (ssl.SSLError, ssl.CertificateError)


class _Stale(Exception):
    """A reused connection closed before answering: send the request again."""


class Origin:
    """Where requests go: scheme, host, port, and the Host header they carry."""

    __slots__ = ("scheme", "host", "port", "host_header", "tls")

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.scheme = parts.scheme
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        netloc = parts.netloc.rpartition("@")[2]  # never send credentials as a Host
        self.host_header = netloc.encode("idna" if not netloc.isascii() else "ascii")


class Response:
    """One answer as it arrives. ``await read()`` returns the next piece of the
    (decoded) body, ``b""`` at its end; ``close()`` gives the connection back to the
    pool when the answer was read to its end, and closes it otherwise."""

    __slots__ = ("_conn", "_parser", "_display", "_loop", "_read_timeout", "_head_only",
                 "status", "headers", "_pieces", "_buffered", "_state", "_error", "_waiter",
                 "_got_bytes", "_framed", "_decoder", "_informational", "_paused", "_last",
                 "_timer", "_encoding", "_keep")

    def __init__(self, conn: _Connection, display: str, read_timeout: float,
                 head_only: bool) -> None:
        self._conn = conn
        self._parser = httptools.HttpResponseParser(self)
        self._display = display
        self._loop = conn.loop
        self._read_timeout = read_timeout
        self._head_only = head_only
        self.status = 0
        #: the header lines as received (names in the upstream's case), in order
        self.headers: list[tuple[bytes, bytes]] = []
        self._pieces: deque[bytes] = deque()
        self._buffered = 0
        self._state = _HEAD
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._got_bytes = False
        self._framed = False  # Content-Length or chunked: the body's end is in the bytes
        self._decoder: Any = None
        self._encoding = b""
        self._informational = False
        self._paused = False
        self._last = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._keep = False

    # ---------------------------------------------------------------- reading

    def relayed_headers(self) -> list[tuple[str, str]]:
        """The headers a proxy passes on: names in lower case, hop-by-hop and framing
        fields dropped (wire/http.py)."""
        return relay_response_headers(
            (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in self.headers)

    def header(self, name: bytes) -> str:
        """The first value of a header (name in lower case), or ""."""
        for k, v in self.headers:
            if k.lower() == name:
                return v.decode("latin-1")
        return ""

    @property
    def done(self) -> bool:
        """The whole answer is here: what ``read`` returns from now on never waits."""
        return self._state == _DONE

    def take_all(self) -> list[bytes]:
        """Every piece received and not read yet (the whole body once ``done``)."""
        pieces = list(self._pieces)
        self._pieces.clear()
        self._buffered = 0
        if self._paused:
            self._paused = False
            self._conn.resume()
        return pieces

    @property
    def pending(self) -> int:
        """Pieces received and not read yet."""
        return len(self._pieces)

    async def wait_head(self) -> None:
        while self._state == _HEAD:
            await self._wait()
        if self._state == _FAILED:
            assert self._error is not None
            raise self._error

    async def read(self) -> bytes:
        while True:
            pieces = self._pieces
            if pieces:
                data = pieces.popleft()
                self._buffered -= len(data)
                if self._paused and self._buffered < _LOW_WATER:
                    self._paused = False
                    self._conn.resume()
                return data
            if self._state == _DONE:
                return b""
            if self._state == _FAILED:
                assert self._error is not None
                raise self._error
            await self._wait()

    def close(self) -> None:
        """Done with this answer: keep the connection if it can carry another."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        conn = self._conn
        reusable = (self._state == _DONE and not self._pieces and not self._head_only
                    and not conn.closed and self._keep)
        conn.release(reusable)

    async def _wait(self) -> None:
        waiter = self._waiter = self._loop.create_future()
        if self._timer is None:
            self._timer = self._loop.call_later(self._read_timeout, self._check_timeout)
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _check_timeout(self) -> None:
        """The read timeout, one timer per answer: re-armed for the time left while the
        upstream keeps talking (a timer per read would cost more than the read)."""
        self._timer = None
        if self._state not in (_HEAD, _BODY):
            return
        idle = self._loop.time() - self._last
        if self._paused or idle < self._read_timeout:
            left = self._read_timeout if self._paused else self._read_timeout - idle
            self._timer = self._loop.call_later(max(left, 0.001), self._check_timeout)
            return
        self._fail(UpstreamTimeout(f"timed out waiting for upstream {self._display}",
                                   self._display))
        self._conn.abort()

    # ---------------------------------------------------------------- from the connection

    def feed(self, data: bytes) -> None:
        self._got_bytes = True
        self._last = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(self._invalid("it switched protocols, which a proxied request "
                                     "never asks for"))
        except httptools.HttpParserError as exc:
            if self._error is None:
                self._fail(self._invalid(str(exc) or type(exc).__name__))
        if self._state == _FAILED:
            self._conn.abort()
        elif self._buffered > _HIGH_WATER and not self._paused:
            self._paused = True
            self._conn.pause()
        self._wake()

    def lost(self, exc: BaseException | None) -> None:
        state = self._state
        if state in (_DONE, _FAILED):
            return
        if state == _BODY and not self._framed and exc is None:
            self._end()  # the body was framed by the connection's end: this is it
        elif state == _HEAD and not self._got_bytes and self._conn.reused:
            self._fail(_Stale())
        else:
            why = "closed before the answer ended" if exc is None else str(exc) or type(exc).__name__
            self._fail(UpstreamError(
                f"upstream {self._display} broke the connection: {why}", self._display))
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if self._state not in (_DONE, _FAILED):
            self._state = _FAILED
            self._error = error
            self._wake()

    def _invalid(self, why: str) -> UpstreamError:
        return UpstreamError(f"upstream {self._display} sent an invalid response: {why}",
                             self._display)

    def _undecodable(self, why: str) -> UpstreamError:
        return UpstreamError(f"upstream {self._display} sent a body that cannot be decoded "
                             f"({self._encoding.decode('latin-1')}): {why}", self._display)

    def _end(self) -> None:
        decoder = self._decoder
        if decoder is not None:
            try:
                tail = decoder.flush()
            except zlib.error as exc:
                self._fail(self._undecodable(str(exc)))
                return
            if not decoder.eof:
                self._fail(self._undecodable("the compressed body ends early"))
                return
            if tail:
                self._pieces.append(tail)
        self._state = _DONE

    # ---------------------------------------------------------------- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200 and status != 101:  # 100 Continue, 103 Early Hints: not the answer
            self.headers = []
            self._informational = True
            return
        self.status = status
        for k, v in self.headers:
            lk = k.lower()
            if lk == b"content-length":
                self._framed = True
            elif lk == b"transfer-encoding" and b"chunked" in v.lower():
                self._framed = True
            elif lk == b"content-encoding":
                self._encoding = v.strip().lower()
        if status in (204, 304):
            self._framed = True
        enc = self._encoding
        if enc and enc != b"identity" and not self._head_only:
            if enc in (b"gzip", b"x-gzip"):
                self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif enc == b"deflate":
                self._decoder = _Deflate()
            else:
                self._error = self._undecodable("a coding it was not offered")
        if self._head_only:
            self._state = _DONE  # a HEAD answer ends with its head whatever it announces
        elif self._error is not None:
            self._state = _FAILED
        else:
            self._state = _BODY

    def on_body(self, body: bytes) -> None:
        if self._state != _BODY:
            return
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error as exc:
                self._fail(self._undecodable(str(exc)))
                return
            if not body:
                return
        self._pieces.append(body)
        self._buffered += len(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self._state == _BODY:
            # asked here: llhttp answers for the message just parsed, not after
            self._keep = self._parser.should_keep_alive()
            self._end()


class _Deflate:
    """``deflate`` as servers send it: zlib-wrapped per the RFC, or raw (a common slip)."""

    __slots__ = ("_d", "_first")

    def __init__(self) -> None:
        self._d = zlib.decompressobj(zlib.MAX_WBITS)
        self._first = True

    def decompress(self, data: bytes) -> bytes:
        if self._first:
            self._first = False
            try:
                return self._d.decompress(data)
            except zlib.error:
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._d.decompress(data)

    def flush(self) -> bytes:
        return self._d.flush()

    @property
    def eof(self) -> bool:
        return bool(self._d.eof)


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection to an origin, one exchange at a time."""

    def __init__(self, client: UpstreamClient, origin: Origin,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.origin = origin
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.closed = False
        self.reused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:  # a small request must not wait for the previous one's ACK
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # bytes while idle (a 408, say): this connection is done
            self.abort()
            return
        response.feed(data)

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client.forget(self)
        if self.response is not None:
            self.response.lost(exc)

    def send(self, head: bytes, body: bytes, display: str, read_timeout: float,
             head_only: bool) -> Response:
        assert self.transport is not None
        response = self.response = Response(self, display, read_timeout, head_only)
        if len(body) <= _JOIN_LIMIT:
            self.transport.write(head + body)  # one write: one segment for a small request
        else:
            self.transport.write(head)
            self.transport.write(body)
        return response

    def release(self, reusable: bool) -> None:
        self.response = None
        if reusable:
            self.reused = True
            self.client.park(self)
        else:
            self.abort()

    def pause(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class UpstreamClient:
    """Pooled connections per origin; create it inside the event loop that uses it."""

    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._origins: dict[str, Origin] = {}
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._all: set[_Connection] = set()
        self._ssl: ssl.SSLContext | None = None

    async def request(self, base: str, method: str, target: str,
                      headers: list[tuple[str, str]], body: bytes, display: str) -> Response:
        """Send one request to ``base`` (``scheme://host[:port]``) and return once the
        answer's head has arrived. ``target`` is the path and query as they go on the
        request line."""
        origin = self._origins.get(base)
        if origin is None:
            origin = self._origins[base] = Origin(base)
        head = self._head(origin, method, target, headers, body)
        head_only = method == "HEAD"
        conn = self._take(origin)
        while True:
            if conn is None:
                conn = await self._connect(origin, display)
            response = conn.send(head, body, display, self.read_timeout, head_only)
            try:
                await response.wait_head()
            except _Stale:  # only ever from a reused connection: once more on a new one
                response.close()
                conn = None
                continue
            except BaseException:
                response.close()
                raise
            return response

    async def close(self) -> None:
        for conn in list(self._all):
            conn.abort()
        self._all.clear()
        self._idle.clear()

    # ---------------------------------------------------------------- pool

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get((origin.scheme, origin.host, origin.port))
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def park(self, conn: _Connection) -> None:
        o = conn.origin
        idle = self._idle.setdefault((o.scheme, o.host, o.port), [])
        if len(idle) >= _MAX_IDLE:
            conn.abort()
            return
        idle.append(conn)

    def forget(self, conn: _Connection) -> None:
        self._all.discard(conn)
        o = conn.origin
        idle = self._idle.get((o.scheme, o.host, o.port))
        if idle and conn in idle:
            idle.remove(conn)

    async def _connect(self, origin: Origin, display: str) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = self._tls() if origin.tls else None
        conn = _Connection(self, origin, loop)
        try:
            async with asyncio.timeout(self.connect_timeout):
                if tls is None:
                    await loop.create_connection(lambda: conn, origin.host, origin.port)
                else:
                    await loop.create_connection(
                        lambda: conn, origin.host, origin.port, ssl=tls,
                        server_hostname=origin.host,
                        ssl_handshake_timeout=self.connect_timeout)
        except TimeoutError:
            raise UpstreamTimeout(f"timed out connecting to upstream {display}",
                                  display) from None
        except OSError as exc:  # refused, unreachable, no such host, TLS failures
            # asyncio words a refusal "Connect call failed (addr)": name the reason
            reason = (os.strerror(exc.errno) if exc.errno and not isinstance(exc, ssl_errors())
                      else str(exc) or type(exc).__name__)
            raise UpstreamError(f"cannot connect to upstream {display}: {reason}",
                                display) from exc
        self._all.add(conn)
        return conn

    def _tls(self) -> ssl.SSLContext:
        if self._ssl is None:
            import ssl  # only for an https upstream: loading the CA store takes a while

            ctx = ssl.create_default_context()
            ctx.set_alpn_protocols(["http/1.1"])
            self._ssl = ctx
        return self._ssl

    @staticmethod
    def _head(origin: Origin, method: str, target: str, headers: list[tuple[str, str]],
              body: bytes) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"),
                 b"Host: ", origin.host_header, b"\r\n"]
        for name, value in headers:
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        if body or method in _BODY_METHODS:
            lines.append(b"Content-Length: %d\r\n" % len(body))
        lines.append(b"Accept-Encoding: " + ACCEPT_ENCODING + b"\r\n\r\n")
        return b"".join(lines)
