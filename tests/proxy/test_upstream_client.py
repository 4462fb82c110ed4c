"""The upstream client against a raw socket server that answers exactly the bytes
each test scripts: framing, codings, keep-alive, TLS, and every failure becoming
the replaydeck error that names it."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import zlib
from collections.abc import Awaitable, Callable

import pytest
import trustme

from replaydeck.errors import UpstreamError, UpstreamTimeout
from replaydeck.proxy.upstream import make_route, request_target
from replaydeck.proxy.upstream_client import UpstreamClient

Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter


def ok(body: bytes, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def chunked(*pieces: bytes) -> bytes:
    out = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    for p in pieces:
        out += b"%x\r\n%s\r\n" % (len(p), p)
    return out + b"0\r\n\r\n"


REPLIES = {
    b"/ok": ok(b"ok"),
    b"/bad-gzip": ok(b"not gzip!!", b"Content-Encoding: gzip"),
    b"/br": ok(b"\x0b\x02\x80hi\x03", b"Content-Encoding: br"),
    b"/short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":",
    b"/cut-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    b"/garbage": b"NOT HTTP AT ALL\r\n\r\n",
    b"/closed": b"",
    b"/gzip": ok(gzip.compress(b'{"hello": "world"}' * 50), b"Content-Encoding: gzip"),
    b"/deflate": ok(zlib.compress(b"zlib wrapped"), b"Content-Encoding: deflate"),
    b"/raw-deflate": ok(zlib.compress(b"raw deflate")[2:-4], b"Content-Encoding: deflate"),
    b"/events": chunked(b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"),
    b"/until-close": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it",
    b"/continue": b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"after 100"),
    b"/empty": b"HTTP/1.1 204 No Content\r\n\r\n",
    b"/head": b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
    b"/two-headers": ok(b"x", b"X-Two: 1", b"x-two: 2"),
}

#: a test's own answer: True when it answered, False to use REPLIES, None to hang up
Handler = Callable[[Reader, Writer, bytes], Awaitable[bool | None]]


class Upstream:
    """A loopback server: scripted replies per path, keep-alive, connections counted."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.seen: list[bytes] = []
        self.connections = 0
        self.handler = handler
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> Upstream:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def handle(self, reader: Reader, writer: Writer) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                self.seen.append(head + body)
                target = head.split(b" ")[1].split(b"?")[0]
                if self.handler is not None:
                    answered = await self.handler(reader, writer, target)
                    if answered is None:
                        return
                    if answered:
                        continue
                if target == b"/slow":
                    await reader.read()  # answer nothing until the client gives up
                    return
                writer.write(REPLIES[target])
                await writer.drain()
                if target in (b"/until-close", b"/closed", b"/short", b"/cut-chunked",
                              b"/garbage", b"/head"):
                    return
        finally:
            writer.close()


async def fetch(up: Upstream, client: UpstreamClient, path: str, method: str = "POST",
                body: bytes = b"abc", headers: list[tuple[str, str]] | None = None,
                ) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
    target = request_target(make_route("", up.base), path, "q=%7e")
    response = await client.request(up.base, method, target, headers or [], body, "U")
    pieces: list[bytes] = []
    try:
        while data := await response.read():
            pieces.append(data)
    finally:
        response.close()
    return response.status, response.headers, pieces


def run(path: str, **kw: object) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
    async def main() -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
        client = UpstreamClient(5.0, float(kw.pop("read_timeout", 5.0)))  # type: ignore[arg-type]
        try:
            async with Upstream() as up:
                return await fetch(up, client, path, **kw)  # type: ignore[arg-type]
        finally:
            await client.close()

    return asyncio.run(main())


@pytest.mark.parametrize(("path", "words"), [
    ("/bad-gzip", "sent a body that cannot be decoded (gzip)"),
    ("/br", "sent a body that cannot be decoded (br): a coding it was not offered"),
    ("/short", "broke the connection"),
    ("/cut-chunked", "broke the connection"),
    ("/garbage", "sent an invalid response"),
    ("/closed", "broke the connection"),
])
def test_broken_replies_become_named_upstream_errors(path: str, words: str) -> None:
    with pytest.raises(UpstreamError) as info:
        run(path)
    assert type(info.value) is UpstreamError and words in str(info.value)
    assert str(info.value).startswith("upstream U ")


def test_silent_upstream_is_a_read_timeout() -> None:
    with pytest.raises(UpstreamTimeout, match="timed out waiting for upstream U"):
        run("/slow", read_timeout=0.2)


def test_refused_connection_names_the_upstream() -> None:
    async def main() -> None:
        async with Upstream() as up:
            base = up.base
        client = UpstreamClient(5.0, 5.0)
        await asyncio.sleep(0.05)  # the listener is gone: nothing on that port
        await client.request(base, "GET", "/", [], b"", "U")

    with pytest.raises(UpstreamError, match="cannot connect to upstream U: .*refused"):
        asyncio.run(main())


def test_request_goes_out_as_given() -> None:
    async def main() -> Upstream:
        client = UpstreamClient(5.0, 5.0)
        async with Upstream() as up:
            got = await fetch(up, client, "/ok", headers=[("x-two", "1"), ("x-two", "2")])
            assert got[2] == [b"ok"]
            await fetch(up, client, "/ok", method="GET", body=b"")
        await client.close()
        return up

    seen = asyncio.run(main()).seen
    lines = seen[0].split(b"\r\n")
    assert lines[0] == b"POST /ok?q=%7e HTTP/1.1"  # the query's escape not re-quoted
    names = sorted(line.split(b":")[0].lower() for line in lines[1:] if b":" in line)
    # nothing of the client's own but Host, the body's length and what it decodes
    assert names == [b"accept-encoding", b"content-length", b"host", b"x-two", b"x-two"]
    assert [v for v in lines if v.lower().startswith(b"x-two")] == [b"x-two: 1", b"x-two: 2"]
    assert b"Accept-Encoding: gzip, deflate\r\n" in seen[0]
    assert seen[0].endswith(b"\r\n\r\nabc")
    # a GET without a body carries no Content-Length at all
    assert seen[1].startswith(b"GET /ok?q=%7e HTTP/1.1\r\n")
    assert b"content-length" not in seen[1].lower()


def test_headers_keep_their_case_order_and_repeats() -> None:
    status, headers, body = run("/two-headers")
    assert status == 200 and body == [b"x"]
    assert headers == [(b"Content-Length", b"1"), (b"X-Two", b"1"), (b"x-two", b"2")]


@pytest.mark.parametrize(("path", "expected"), [
    ("/gzip", b'{"hello": "world"}' * 50),
    ("/deflate", b"zlib wrapped"),
    ("/raw-deflate", b"raw deflate"),
    ("/until-close", b"all of it"),
    ("/continue", b"after 100"),
])
def test_bodies_arrive_whole_and_decoded(path: str, expected: bytes) -> None:
    status, _, pieces = run(path)
    assert status == 200 and b"".join(pieces) == expected


def test_each_http_chunk_is_its_own_piece() -> None:
    assert run("/events")[2] == [b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"]


def test_answers_without_a_body() -> None:
    assert run("/empty")[:3:2] == (204, [])
    assert run("/head", method="HEAD", body=b"")[:3:2] == (200, [])


def test_connections_are_reused_and_a_stale_one_is_replaced() -> None:
    dropped: list[bytes] = []

    async def handler(reader: Reader, writer: Writer, target: bytes) -> bool | None:
        if target == b"/drop-once" and not dropped:
            # the upstream closes a kept-alive connection as the request arrives (its idle
            # timeout): nothing answered, so the client may send it once more
            dropped.append(target)
            return None
        if target == b"/drop-once":
            writer.write(ok(b"second try"))
            return True
        return False

    async def main() -> Upstream:
        client = UpstreamClient(5.0, 5.0)
        async with Upstream(handler) as up:
            for _ in range(5):
                assert (await fetch(up, client, "/ok"))[2] == [b"ok"]
            assert up.connections == 1
            assert (await fetch(up, client, "/drop-once"))[2] == [b"second try"]
            assert up.connections == 2 and dropped
        await client.close()
        return up

    asyncio.run(main())


def test_a_fresh_connection_closed_unanswered_is_an_error() -> None:
    with pytest.raises(UpstreamError, match="upstream U broke the connection"):
        run("/closed")


def test_a_connection_left_mid_answer_is_not_reused() -> None:
    async def main() -> int:
        client = UpstreamClient(5.0, 5.0)
        async with Upstream() as up:
            response = await client.request(up.base, "GET", "/events", [], b"", "U")
            assert await response.read() == b"data: 1\n\n"
            response.close()  # the caller stopped reading: the rest is still on the wire
            assert (await fetch(up, client, "/ok"))[2] == [b"ok"]
            count = up.connections
        await client.close()
        return count

    assert asyncio.run(main()) == 2


def test_a_large_body_flows_through_pauses() -> None:
    big = bytes(range(256)) * (5 * 4096)  # 5 MiB: reading pauses and resumes

    async def handler(reader: Reader, writer: Writer, target: bytes) -> bool:
        writer.write(ok(big))
        await writer.drain()
        return True

    async def main() -> bytes:
        client = UpstreamClient(5.0, 5.0)
        async with Upstream(handler) as up:
            response = await client.request(up.base, "GET", "/big", [], b"", "U")
            out = bytearray()
            while data := await response.read():
                out += data
                await asyncio.sleep(0)  # a slow reader
            response.close()
        await client.close()
        return bytes(out)

    assert asyncio.run(main()) == big


def test_tls_upstream_verified_against_its_ca() -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)

    async def handle(reader: Reader, writer: Writer) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ok(b"secure"))
        await writer.drain()
        writer.close()

    async def main(trusted: bool) -> bytes:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
        base = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        client = UpstreamClient(5.0, 5.0)
        if trusted:
            ctx = ssl.create_default_context()
            ca.configure_trust(ctx)
            client._ssl = ctx
        try:
            response = await client.request(base, "GET", "/", [], b"", "U")
            body = await response.read()
            response.close()
            return body
        finally:
            await client.close()
            server.close()

    assert asyncio.run(main(True)) == b"secure"
    with pytest.raises(UpstreamError, match="cannot connect to upstream U: .*certificate"):
        asyncio.run(main(False))


def test_tls_handshake_that_never_ends_is_a_connect_timeout() -> None:
    async def main() -> None:
        ended = asyncio.Event()

        async def handle(reader: Reader, writer: Writer) -> None:
            await reader.read()  # a TCP listener that never speaks TLS, until the client leaves
            writer.close()
            ended.set()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        base = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        client = UpstreamClient(0.3, 5.0)
        try:
            await client.request(base, "GET", "/", [], b"", "U")
        finally:
            await client.close()
            await asyncio.wait_for(ended.wait(), 5)  # the client hung up: nothing left open
            server.close()

    with pytest.raises(UpstreamTimeout, match="timed out connecting to upstream U"):
        asyncio.run(main())
