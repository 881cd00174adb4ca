"""The feed's server answers a cached page's request at the protocol level (``FastProtocol``)
with exactly the bytes the ASGI fast path sends, and hands everything else to uvicorn's parser:
other methods, HTTP/1.0, bodies, pipelined requests, a page not cached, over a real socket."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from tests.feed.conftest import feed_process
from tests.feed.factory import article_state, published
from tests.support.procs import ServiceProcess
from tests.support.waiting import eventually
from xabar.feed.cache import PageCache
from xabar.runtime.bus import EventBus
from xabar.runtime.fastprotocol import FastProtocol
from xabar.runtime.rendered import Rendered

HEADLINE = "Новость для быстрого ответа"


@pytest.fixture
async def site(redis_url: str, tmp_path: Path) -> AsyncIterator[ServiceProcess]:
    async with feed_process(redis_url, tmp_path, "feed-protocol") as proc:
        yield proc


class Conn:
    """One kept-alive connection speaking raw HTTP/1.1."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def to(cls, site: ServiceProcess) -> "Conn":
        return cls(*await asyncio.open_connection("127.0.0.1", site.port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, head_only: bool = False) -> tuple[bytes, dict[bytes, bytes], bytes]:
        """The status line, the headers (but Date) and the body of the next answer."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        status, *lines = head[:-4].split(b"\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(b": ")
            assert name.lower() not in headers, f"{name!r} sent twice"
            headers[name.lower()] = value
        date = headers.pop(b"date", None)
        assert date or status.startswith(b"HTTP/1.1 431")  # uvicorn's refusal has none
        length = 0 if head_only else int(headers.get(b"content-length", b"0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), 10)
        return status, headers, body

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def get(path: str, *extra: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1", *extra, "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def cached(site: ServiceProcess, path: str, *extra: str) -> None:
    """``path`` rendered and cached (its first answer is the app's)."""
    conn = await Conn.to(site)
    try:
        await conn.send(get(path, *extra))
        status, _, _ = await conn.answer()
        assert status == b"HTTP/1.1 200 OK"
    finally:
        await conn.close()


async def test_a_cached_page_is_the_same_bytes_as_the_asgi_fast_path_gives(
    site: ServiceProcess, publisher: EventBus
) -> None:
    await publisher.publish(published(article_state(title=HEADLINE)))
    await eventually(lambda: _front_page_has(site), what="the article on the front page")
    for coding in ("br", "gzip", "identity"):
        accept = f"Accept-Encoding: {coding}"
        await cached(site, "/", accept)
        # HTTP/1.0 is never answered by the protocol: the ASGI fast path's answer, to compare
        old = await Conn.to(site)
        await old.send(get("/", accept, "Connection: keep-alive", version="1.0"))
        status, asgi, body = await old.answer()
        await old.close()
        assert asgi.pop(b"connection") == b"close"
        conn = await Conn.to(site)
        for _ in range(3):  # the same connection, kept alive: every answer the protocol's
            await conn.send(get("/", accept, "Connection: keep-alive"))
            assert await conn.answer() == (status, asgi, body)
        await conn.send(get("/", accept, method="HEAD"))
        assert await conn.answer(head_only=True) == (status, asgi, b"")
        await conn.send(get("/", accept, f"If-None-Match: {asgi[b'etag'].decode()}"))
        not_modified, headers, empty = await conn.answer()
        assert not_modified == b"HTTP/1.1 304 Not Modified" and empty == b""
        assert headers[b"etag"] == asgi[b"etag"] and b"content-length" not in headers
        await conn.close()
    assert b"content-security-policy" in asgi and asgi[b"x-content-type-options"] == b"nosniff"
    assert b"vary" in asgi


async def test_what_the_protocol_does_not_take_goes_to_the_parser_in_order(
    site: ServiceProcess, publisher: EventBus
) -> None:
    await publisher.publish(published(article_state(title=HEADLINE)))
    await eventually(lambda: _front_page_has(site), what="the article on the front page")
    await cached(site, "/")
    conn = await Conn.to(site)
    try:
        # two requests in one write (pipelined), a cached page behind a POST: in order
        await conn.send(get("/", method="POST") + get("/"))
        refused, _, _ = await conn.answer()
        assert refused.startswith(b"HTTP/1.1 405")
        again, _, body = await conn.answer()
        assert again == b"HTTP/1.1 200 OK" and HEADLINE in body.decode()
        # a GET with a body: the parser reads the body, so the connection stays in step
        await conn.send(get("/", "Content-Length: 20").removesuffix(b"\r\n") + b"\r\n" + b"G" * 20)
        status, _, body = await conn.answer()
        assert status == b"HTTP/1.1 200 OK" and HEADLINE in body.decode()
        await conn.send(get("/rss.xml"))  # another page, not cached yet: rendered by the app
        status, rss, _ = await conn.answer()
        assert status == b"HTTP/1.1 200 OK" and rss[b"content-type"].startswith(b"application/")
        await conn.send(get("/", "Connection: close"))  # answered, then the connection ends
        status, _, body = await conn.answer()
        assert status == b"HTTP/1.1 200 OK"
        assert await asyncio.wait_for(conn.reader.read(), 10) == b""
    finally:
        await conn.close()
    bad = await Conn.to(site)
    try:  # a header past the runtime's limits is still refused 431 by the parser
        await bad.send(get("/", "X-Long: " + "a" * 9000))
        status, _, _ = await bad.answer()
        assert status.startswith(b"HTTP/1.1 431")
    finally:
        await bad.close()


async def _front_page_has(site: ServiceProcess) -> bool:
    conn = await Conn.to(site)
    try:
        await conn.send(get("/"))
        return HEADLINE in (await conn.answer())[2].decode()
    finally:
        await conn.close()


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent = b""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent += bytes(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8080)}.get(name)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


async def test_a_cached_page_is_answered_without_the_app() -> None:
    cache = PageCache()
    body = "<!doctype html><title>Страница</title>".encode() * 20
    cache.put("/новости", Rendered(body, "text/html; charset=utf-8", 1, datetime.now(UTC)))
    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["path"])
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = uvicorn.Config(app, log_config=None, lifespan="off")
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Tue, 01 Dec 2026 23:00:00 GMT")]
    protocol = FastProtocol.serving(cache)(config, state, {}, asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)
    protocol.data_received(get("/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"))
    head, _, sent = transport.sent.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\ndate: Tue, 01 Dec 2026 23:00:00 GMT\r\n")
    assert sent == body and not called and state.total_requests == 1
    protocol.data_received(get("/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"))  # remembered
    assert transport.sent.count(body) == 2 and state.total_requests == 2
    protocol.data_received(get("/other"))  # not cached: the app's
    await asyncio.sleep(0.05)
    assert called == ["/other"]
    cache.observe(2)  # the read model moved on: the same bytes are the app's again
    protocol.data_received(get("/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"))
    await asyncio.sleep(0.05)
    assert called == ["/other", "/новости"] and transport.sent.count(body) == 2
    protocol.connection_lost(None)
