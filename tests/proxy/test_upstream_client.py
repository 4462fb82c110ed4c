"""The upstream client against a raw socket server that misbehaves on purpose: each
failure becomes the replaydeck error that names it, and the request goes out as given."""

from __future__ import annotations

import asyncio

import pytest

from replaydeck.errors import UpstreamError, UpstreamTimeout
from replaydeck.proxy.upstream import make_client, make_route, map_upstream_errors, target_url

REPLIES = {
    b"/ok": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"/bad-gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot gzip!!",
    b"/short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":",
    b"/cut-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    b"/garbage": b"NOT HTTP AT ALL\r\n\r\n",
    b"/closed": b"",
}


async def fetch(path: str, read_timeout: float = 5.0,
                seen: list[bytes] | None = None) -> list[bytes]:
    """Send one request through the upstream client; the chunks read (``seen`` gets the
    request as the server read it)."""
    seen = [] if seen is None else seen

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head + await reader.read(3))
        target = head.split(b" ")[1].split(b"?")[0]
        if target == b"/slow":
            await reader.read()  # answer nothing until the client gives up
        else:
            writer.write(REPLIES[target])
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = make_client(connect_timeout=5.0, read_timeout=read_timeout)
    chunks: list[bytes] = []
    try:
        with map_upstream_errors("U"):
            url = target_url(make_route("", f"http://127.0.0.1:{port}"), path, "q=%7e")
            async with client.request("POST", url, headers=[("x-two", "1"), ("x-two", "2")],
                                      data=b"abc") as response:
                async for data, _ in response.content.iter_chunks():
                    chunks.append(data)
    finally:
        await client.close()
        server.close()
        await server.wait_closed()
    return chunks


@pytest.mark.parametrize(("path", "error", "words"), [
    ("/bad-gzip", UpstreamError, "sent a body that cannot be decoded"),
    ("/short", UpstreamError, "broke the connection"),
    ("/cut-chunked", UpstreamError, "broke the connection"),
    ("/garbage", UpstreamError, "sent an invalid response"),
    ("/closed", UpstreamError, "broke the connection"),
])
def test_broken_replies_become_named_upstream_errors(path: str, error: type[Exception],
                                                     words: str) -> None:
    with pytest.raises(error) as info:
        asyncio.run(fetch(path))
    assert type(info.value) is error and words in str(info.value)
    assert str(info.value).startswith(("upstream U ", "cannot connect to upstream U"))


def test_silent_upstream_is_a_read_timeout() -> None:
    with pytest.raises(UpstreamTimeout, match="timed out waiting for upstream U"):
        asyncio.run(fetch("/slow", read_timeout=0.2))


def test_request_goes_out_as_given() -> None:
    seen: list[bytes] = []
    assert asyncio.run(fetch("/ok", seen=seen)) == [b"ok"]
    lines = seen[0].split(b"\r\n")
    assert lines[0] == b"POST /ok?q=%7e HTTP/1.1"  # the query's escape not re-quoted
    names = sorted(line.split(b":")[0].lower() for line in lines[1:] if b":" in line)
    # nothing of the client library's own but Host, the body's length and what it decodes
    assert names == [b"accept-encoding", b"content-length", b"host", b"x-two", b"x-two"]
    assert [v for v in lines if v.lower().startswith(b"x-two")] == [b"x-two: 1", b"x-two: 2"]
    assert seen[0].endswith(b"\r\n\r\nabc")
