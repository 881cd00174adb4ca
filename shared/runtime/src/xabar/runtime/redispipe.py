"""One Redis connection that carries the hot-path scripts of many concurrent requests.

redis-py spends 50-70 µs of CPU on every command (pool checkout, retry wrapper, observability
hooks) plus a write system call of its own; on a request that does nothing but one script call
that is most of the cost. ``RedisPipe`` keeps one connection and writes the commands of every
caller of one event-loop turn together (one system call), and hands the replies back in order
(Redis answers in the order it was asked on a connection); the replies are parsed by hiredis.

Only for short commands: a blocking one (``XREADGROUP ... BLOCK``, ``BLPOP``) would hold up
every caller queued behind it, so those stay on redis-py. A caller whose connection breaks gets
``redis.exceptions.ConnectionError`` (the command may or may not have run, as with redis-py);
the next call connects again. Error replies raise ``ResponseError`` (``NoScriptError`` for an
unknown script, which ``PipeScript`` answers by sending the script itself).

A Redis that accepts the connection but stops answering (a partition, a proxy whose backend is
gone) must not hold callers forever: a watchdog aborts the connection when the oldest command has
waited ``command_timeout`` seconds without its reply, so every waiting caller fails at once with
``ConnectionError`` (replies can never shift onto other callers) and the next call reconnects.
TCP keepalive is on. Only ``redis://host:port/db`` URLs (with user and password) are taken: a unix
socket, TLS or connection options are refused when the pipe is built, rather than silently
connecting somewhere else than the service's redis-py clients.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

Arg = bytes | str | int | float


class _Protocol(asyncio.Protocol):
    def __init__(self, pipe: RedisPipe) -> None:
        self.pipe = pipe
        self.reader = hiredis.Reader()
        self.waiters: deque[asyncio.Future[Any]] = deque()
        self.sent_at: deque[float] = deque()  # when each waiter's command was queued
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._arm()

    def expect(self, waiter: asyncio.Future[Any]) -> None:
        self.waiters.append(waiter)
        self.sent_at.append(time.monotonic())

    def _arm(self) -> None:
        interval = max(0.05, self.pipe.command_timeout / 4)
        self._watchdog = asyncio.get_running_loop().call_later(interval, self._watch)

    def _watch(self) -> None:
        if self.lost is not None:
            return
        if self.sent_at and time.monotonic() - self.sent_at[0] > self.pipe.command_timeout:
            if self.transport is not None:
                self.transport.abort()  # connection_lost fails every waiter together
            self.connection_lost(
                TimeoutError(f"no reply from Redis in {self.pipe.command_timeout} s")
            )
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                waiter = self.waiters.popleft()
                self.sent_at.popleft()
                if waiter.done():  # its caller was cancelled
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    waiter.set_exception(_error(str(reply)))
                else:
                    waiter.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:  # cannot happen with a Redis server
            if self.transport is not None:
                self.transport.abort()
            self.connection_lost(exc)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.lost is not None:  # already failed (the watchdog, then the transport's call)
            return
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.lost = exc or ConnectionResetError("connection closed")
        self.sent_at.clear()
        self.pipe._lost(self)
        failure = RedisConnectionError(f"connection to Redis lost: {self.lost!r}")
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(failure)


class RedisPipe:
    def __init__(
        self, url: str, *, connect_timeout: float = 5.0, command_timeout: float = 5.0
    ) -> None:
        params = parse_url(url)
        unsupported = sorted(set(params) - {"host", "port", "db", "username", "password"})
        if unsupported:
            raise ValueError(
                "RedisPipe takes redis://[user:password@]host:port/db URLs only; "
                f"this one sets {', '.join(unsupported)}"
            )
        self.host = str(params.get("host", "127.0.0.1"))
        self.port = int(params.get("port", 6379))
        self._setup: list[tuple[Arg, ...]] = []
        if params.get("password"):
            user = params.get("username")
            auth: tuple[Arg, ...] = (user, params["password"]) if user else (params["password"],)
            self._setup.append(("AUTH", *auth))
        if int(params.get("db", 0)):
            self._setup.append(("SELECT", int(params["db"])))
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._buffer: list[bytes] = []
        self._flush_scheduled = False
        self._closed = False

    async def execute(self, *args: Arg) -> Any:
        """Send one command (with those of the other callers of this loop turn); its reply."""
        protocol = self._protocol
        if protocol is None:
            protocol = await self._connect()
        return await self._send(protocol, _pack(args))

    def script(self, source: str) -> PipeScript:
        return PipeScript(self, source)

    async def aclose(self) -> None:
        self._closed = True
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            self._flush()
            protocol.transport.close()

    # --- internals ---------------------------------------------------------------------------

    def _send(self, protocol: _Protocol, packed: bytes) -> asyncio.Future[Any]:
        if protocol is not self._protocol or protocol.lost is not None:
            raise RedisConnectionError("connection to Redis lost")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        protocol.expect(waiter)
        self._buffer.append(packed)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return waiter

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._buffer:
            return
        data, self._buffer = b"".join(self._buffer), []
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            protocol.transport.write(data)
        # else: the connection was lost after these were queued; their waiters have failed

    def _lost(self, protocol: _Protocol) -> None:
        if self._protocol is protocol:
            self._protocol = None
            self._buffer = []  # commands of the lost connection: their waiters fail with it

    async def _connect(self) -> _Protocol:
        if self._closed:
            raise RedisConnectionError("the Redis pipe is closed")
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(self._connected)
        return await asyncio.shield(self._connecting)

    def _connected(self, attempt: asyncio.Future[_Protocol]) -> None:
        if self._connecting is attempt:
            self._connecting = None
        if not attempt.cancelled():
            attempt.exception()  # retrieved: its callers have it

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), self.host, self.port),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(
                f"cannot connect to Redis at {self.host}:{self.port}: {exc!r}"
            ) from exc
        if self._setup:  # AUTH, SELECT: answered before anything else is sent
            assert protocol.transport is not None
            replies = [loop.create_future() for _ in self._setup]
            for reply in replies:
                protocol.expect(reply)  # the watchdog bounds the handshake too
            protocol.transport.write(b"".join(_pack(cmd) for cmd in self._setup))
            try:
                for reply in replies:
                    await reply
            except Exception:
                protocol.transport.close()
                raise
        if protocol.lost is not None or self._closed:
            if protocol.transport is not None:
                protocol.transport.close()
            raise RedisConnectionError("connection to Redis lost while opening it")
        self._protocol = protocol  # before any caller resumes
        return protocol


class PipeScript:
    """A Lua script called by its SHA1; sent in full once when Redis does not know it (a
    restarted server forgets its scripts)."""

    def __init__(self, pipe: RedisPipe, source: str) -> None:
        self.pipe = pipe
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis's script id

    async def __call__(self, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        try:
            return await self.pipe.execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await self.pipe.execute("EVAL", self.source, len(keys), *keys, *args)


def _error(message: str) -> ResponseError:
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


def _pack(args: Sequence[Arg]) -> bytes:
    """The RESP encoding of one command: hiredis's, in C (this runs for every command). It takes
    str (as UTF-8), bytes, int and float, and refuses anything else (bool too) with TypeError."""
    packed: bytes = hiredis.pack_command(cast(Any, tuple(args)))  # its stub says a 1-tuple
    return packed
