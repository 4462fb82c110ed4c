"""The bench's load client: latency percentiles and chunk timing over raw sockets.

wrk measures throughput; this client measures what wrk cannot: per-request
latency on one keep-alive connection, when the first byte and each SSE event of
a streamed reply arrive, and the same for many streams at once. Responses are
parsed with httptools (the parser uvicorn uses), so a chunked body and a
content-length body are read the same way. The clock is ``time.perf_counter``
read right after each ``recv`` returns.

Every loop is bounded by a count and by a deadline, and connects to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field

import httptools

HOST = "127.0.0.1"


def build_request(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Reply:
    """One response as it arrived: status, body, and when each SSE event completed."""

    sent: float = 0.0
    status: int = 0
    body: bytearray = field(default_factory=bytearray)
    first_byte: float | None = None  # first body byte
    events: list[float] = field(default_factory=list)  # each "\n\n"-terminated event
    headers: list[tuple[str, str]] = field(default_factory=list)
    done: bool = False
    _now: float = 0.0

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, data: bytes) -> None:
        if self.first_byte is None:
            self.first_byte = self._now
        tail = self.body[-1:] if self.body else b""
        self.body += data
        completed = (tail + data).count(b"\n\n")
        if completed:
            self.events.extend([self._now] * completed)

    def on_message_complete(self) -> None:
        self.done = True


class Connection:
    """One blocking keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        self.sock.close()

    def request(self, raw: bytes, timeout: float = 30.0) -> Reply:
        reply = Reply()
        parser = httptools.HttpResponseParser(reply)
        self.sock.settimeout(timeout)
        reply.sent = time.perf_counter()
        self.sock.sendall(raw)
        recv = self.sock.recv
        while not reply.done:
            data = recv(262144)
            reply._now = time.perf_counter()
            if not data:
                raise ConnectionError("server closed the connection")
            parser.feed_data(data)
        reply.status = parser.get_status_code()
        return reply


def latencies(port: int, raw: bytes | list[bytes], n: int, max_seconds: float) -> list[float]:
    """Sequential round trips on one connection, in microseconds (non-200 raises)."""
    reqs = raw if isinstance(raw, list) else [raw]
    conn = Connection(port)
    out: list[float] = []
    deadline = time.perf_counter() + max_seconds
    try:
        for i in range(n):
            r = conn.request(reqs[i % len(reqs)])
            if r.status != 200:
                raise RuntimeError(f"status {r.status}: {bytes(r.body[:200])!r}")
            out.append(((r._now) - r.sent) * 1e6)
            if r._now > deadline:
                break
    finally:
        conn.close()
    return out


def one(port: int, raw: bytes, timeout: float = 30.0) -> Reply:
    conn = Connection(port)
    try:
        return conn.request(raw, timeout)
    finally:
        conn.close()


# ---------------------------------------------------------------- many streams at once


class _StreamProtocol(asyncio.Protocol):
    def __init__(self, raw: bytes, done: asyncio.Future[Reply]) -> None:
        self.raw = raw
        self.reply = Reply()
        self.parser = httptools.HttpResponseParser(self.reply)
        self.done = done

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def go(self) -> None:
        self.reply.sent = time.perf_counter()
        self.transport.write(self.raw)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.reply._now = time.perf_counter()
        self.parser.feed_data(data)
        if self.reply.done and not self.done.done():
            self.reply.status = self.parser.get_status_code()
            self.done.set_result(self.reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed before the reply ended"))


async def _streams(port: int, raw: bytes, n: int, timeout: float) -> list[Reply]:
    loop = asyncio.get_running_loop()
    protos = []
    for _ in range(n):  # connect all first, then send all at once
        fut: asyncio.Future[Reply] = loop.create_future()
        _, proto = await loop.create_connection(lambda f=fut: _StreamProtocol(raw, f), HOST, port)
        protos.append(proto)
    for p in protos:
        p.go()
    try:
        return list(await asyncio.wait_for(asyncio.gather(*(p.done for p in protos)), timeout))
    finally:
        for p in protos:
            p.transport.close()


def concurrent_streams(port: int, raw: bytes, n: int, timeout: float = 30.0) -> list[Reply]:
    """``n`` connections each sending ``raw`` at the same moment; every reply as it arrived."""
    try:
        import uvloop

        return uvloop.run(_streams(port, raw, n, timeout))
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(_streams(port, raw, n, timeout))
