"""One Redis connection per node that carries the hot-path scripts of many concurrent requests.

redis-py spends 50-70 µs of CPU on every command (pool checkout, retry wrapper, observability
hooks) plus a write system call of its own; on a request that does nothing but one script call
that is most of the cost. ``RedisPipe`` keeps one connection and writes the commands of every
caller of one event-loop turn together (one system call), and hands the replies back in order
(Redis answers in the order it was asked on a connection); the replies are parsed by hiredis.

It follows the deployment (``xabar.runtime.deployment``):
- a single node: one connection, as before;
- Sentinel: one connection to the primary the sentinels name, checked with ``ROLE`` when it is
  opened; a lost connection or a ``READONLY`` answer (a demoted primary) makes the next call ask
  the sentinels again, and a command refused with ``READONLY`` (it did not run) is sent once
  more to the new primary;
- a cluster: one connection per master, each command sent to the master of its key's slot (the
  first argument; a script's first key), from the cluster's slot map (``CLUSTER SLOTS``). A
  ``MOVED`` answer refreshes the map and sends the command again, an ``ASK`` sends it once to the
  node named (after ``ASKING``); neither ran the command. A lost connection refreshes the map on
  the next call.

Durable writes (``durable=True``): when the deployment's ``Replication`` asks for replicas, a
``WAIT`` follows the commands of one loop turn on each connection, so every caller of the turn
shares one; a caller's write is acknowledged only when that ``WAIT`` counted enough replicas,
else ``NotReplicated`` (see ``xabar.runtime.replication``). ``WAIT`` blocks the connection while
it waits, so the commands queued behind it wait too (a fraction of a millisecond on a healthy
replica link; up to the timeout when the replicas are gone, when every durable write fails
anyway). Group commit: while one ``WAIT`` is on the wire, the turns after it send their commands
at once but no ``WAIT`` of their own; when it answers, one ``WAIT`` goes out for all of them
(it counts the replicas that have every write the connection made before it), so a connection
pays one replication round trip per round trip, not one per loop turn.

Only for short commands: a blocking one (``XREADGROUP ... BLOCK``, ``BLPOP``) would hold up
every caller queued behind it, so those stay on redis-py. A caller whose connection breaks gets
``redis.exceptions.ConnectionError`` (the command may or may not have run, as with redis-py);
the next call connects again. Error replies raise ``ResponseError`` (``NoScriptError`` for an
unknown script, which ``PipeScript`` answers by sending the script itself).

A Redis that accepts the connection but stops answering (a partition, a proxy whose backend is
gone) must not hold callers forever: a watchdog aborts the connection when the oldest command has
waited ``command_timeout`` seconds (at least the ``WAIT`` timeout and a second more) without its
reply, so every waiting caller fails at once with ``ConnectionError`` (replies can never shift
onto other callers) and the next call reconnects. TCP keepalive is on. On a single node only
``redis://host:port/db`` URLs (with user and password) are taken: a unix socket, TLS or
connection options are refused when the pipe is built, rather than silently connecting somewhere
else than the service's redis-py clients.
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
from redis.asyncio.sentinel import Sentinel
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    ReadOnlyError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from xabar.runtime.deployment import (
    Address,
    ClusterDeployment,
    RedisDeployment,
    SentinelDeployment,
    SingleNode,
    as_deployment,
)
from xabar.runtime.replication import Replication

Arg = bytes | str | int | float
SLOTS = 16384
MAX_REDIRECTS = 5
ASKING = b"*1\r\n$6\r\nASKING\r\n"
KEYS_AT_3 = frozenset({b"EVALSHA", b"EVAL", b"EVALSHA_RO", b"EVAL_RO", b"FCALL", b"FCALL_RO"})


class _Protocol(asyncio.Protocol):
    def __init__(self, link: _Link) -> None:
        self.link = link
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
        interval = max(0.05, self.link.pipe.command_timeout / 4)
        self._watchdog = asyncio.get_running_loop().call_later(interval, self._watch)

    def _watch(self) -> None:
        if self.lost is not None:
            return
        timeout = self.link.pipe.command_timeout
        if self.sent_at and time.monotonic() - self.sent_at[0] > timeout:
            self.abort(TimeoutError(f"no reply from Redis in {timeout} s"))
            return
        self._arm()

    def abort(self, why: BaseException) -> None:
        """Drop the connection: every waiting caller fails at once."""
        if self.transport is not None:
            self.transport.abort()  # connection_lost fails every waiter together
        self.connection_lost(why)

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
            self.abort(exc)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.lost is not None:  # already failed (the watchdog, then the transport's call)
            return
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.lost = exc or ConnectionResetError("connection closed")
        self.sent_at.clear()
        self.link._lost(self)
        failure = RedisConnectionError(f"connection to Redis lost: {self.lost!r}")
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(failure)


class _Link:
    """One connection to one Redis node (the primary Sentinel names, when ``address`` is None)
    that carries the commands of every caller; reconnected on the next call when lost."""

    def __init__(self, pipe: RedisPipe, address: Address | None) -> None:
        self.pipe = pipe
        self.address = address
        self.protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._buffer: list[bytes] = []
        self._flush_scheduled = False
        self._wait: asyncio.Future[Any] | None = None  # the WAIT after this turn's commands
        self._waiting: asyncio.Future[Any] | None = None  # a WAIT sent and not answered yet
        self._deferred: list[asyncio.Future[Any]] = []  # written commands' WAITs, sent next

    def send(self, protocol: _Protocol, packed: bytes) -> asyncio.Future[Any]:
        if protocol is not self.protocol or protocol.lost is not None:
            raise RedisConnectionError("connection to Redis lost")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        protocol.expect(waiter)
        self._buffer.append(packed)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return waiter

    def wait_after(self) -> asyncio.Future[Any]:
        """The reply of the ``WAIT`` that follows the commands queued so far in this turn."""
        if self._wait is None:
            self._wait = asyncio.get_running_loop().create_future()
            self._wait.add_done_callback(_retrieve)
        return self._wait

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._buffer:
            return
        data, self._buffer = b"".join(self._buffer), []
        wait, self._wait = self._wait, None
        protocol = self.protocol
        if protocol is None or protocol.transport is None:
            if wait is not None and not wait.done():  # lost after these were queued
                wait.set_exception(RedisConnectionError("connection to Redis lost"))
            return  # the commands' waiters have failed with the connection
        if wait is not None:
            if self._waiting is None:
                data += self._send_wait(protocol, [wait])
            else:  # group commit: one WAIT, once the one on the wire answers, covers these too
                self._deferred.append(wait)
        protocol.transport.write(data)

    def _send_wait(self, protocol: _Protocol, callers: list[asyncio.Future[Any]]) -> bytes:
        """A ``WAIT`` for every command written so far on ``protocol``, answered to ``callers``;
        its RESP to write after them."""
        sent: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        protocol.expect(sent)
        self._waiting = sent
        sent.add_done_callback(lambda done: self._waited(protocol, done, callers))
        return _pack(self.pipe.replication.wait_command())

    def _waited(
        self, protocol: _Protocol, done: asyncio.Future[Any], callers: list[asyncio.Future[Any]]
    ) -> None:
        if self._waiting is done:
            self._waiting = None
        failure = (
            RedisConnectionError("connection to Redis lost")
            if done.cancelled()
            else done.exception()
        )
        for caller in callers:
            if caller.done():
                continue
            if failure is not None:
                caller.set_exception(failure)
            else:
                caller.set_result(done.result())
        deferred, self._deferred = self._deferred, []
        if not deferred:
            return
        if protocol is self.protocol and protocol.lost is None and protocol.transport is not None:
            # commands queued this turn were expected before this WAIT: they go out first, and
            # it covers them too (the flush scheduled for them then finds nothing to send)
            data, self._buffer = b"".join(self._buffer), []
            wait, self._wait = self._wait, None
            callers = [*deferred, *([wait] if wait is not None else [])]
            protocol.transport.write(data + self._send_wait(protocol, callers))
            return
        for caller in deferred:  # lost with their connection
            if not caller.done():
                caller.set_exception(RedisConnectionError("connection to Redis lost"))

    def _lost(self, protocol: _Protocol) -> None:
        if self.protocol is protocol:
            self.protocol = None
            self._buffer = []  # commands of the lost connection: their waiters fail with it
            wait, self._wait = self._wait, None
            deferred, self._deferred = self._deferred, []
            for caller in [*deferred, *([wait] if wait is not None else [])]:
                if not caller.done():
                    caller.set_exception(RedisConnectionError("connection to Redis lost"))

    def drop(self, why: BaseException) -> None:
        protocol = self.protocol
        if protocol is not None:
            protocol.abort(why)

    async def connect(self) -> _Protocol:
        if self.pipe._closed:
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
        pipe = self.pipe
        loop = asyncio.get_running_loop()
        host, port = self.address or await pipe._primary()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), host, port),
                pipe.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(
                f"cannot connect to Redis at {host}:{port}: {exc!r}"
            ) from exc
        setup = list(pipe._setup)
        if self.address is None:
            setup.append(("ROLE",))  # a sentinel's answer may be stale: ask the server itself
        if setup:  # AUTH, SELECT, ROLE: answered before anything else is sent
            assert protocol.transport is not None
            replies = [loop.create_future() for _ in setup]
            for reply in replies:
                protocol.expect(reply)  # the watchdog bounds the handshake too
            protocol.transport.write(b"".join(_pack(cmd) for cmd in setup))
            try:
                answers = [await reply for reply in replies]
                if self.address is None and answers[-1][0] != b"master":
                    raise RedisConnectionError(f"{host}:{port} is not the primary (yet)")
            except Exception:
                protocol.transport.close()
                raise
        if protocol.lost is not None or pipe._closed:
            if protocol.transport is not None:
                protocol.transport.close()
            raise RedisConnectionError("connection to Redis lost while opening it")
        self.protocol = protocol  # before any caller resumes
        return protocol

    def close(self) -> None:
        self._flush()  # what callers queued this turn goes out before the connection closes
        protocol, self.protocol = self.protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()


class RedisPipe:
    def __init__(
        self,
        redis: str | RedisDeployment,
        *,
        connect_timeout: float = 5.0,
        command_timeout: float = 5.0,
        replication: Replication | None = None,
    ) -> None:
        """``redis``: the deployment (or its URL). ``replication``: what ``durable`` writes
        wait for (none by default)."""
        deployment = as_deployment(redis)
        self.deployment = deployment
        self.replication = replication or Replication()
        self.connect_timeout = connect_timeout
        # a WAIT may hold its reply up to its timeout: the watchdog must not take that for a
        # dead connection
        self.command_timeout = max(command_timeout, self.replication.timeout_ms / 1000 + 1.0)
        self._setup: list[tuple[Arg, ...]] = []
        self._sentinel: Sentinel | None = None
        self._slots: _SlotMap | None = None
        self._closed = False
        if isinstance(deployment, SingleNode):
            host, port, db, user, password = _single_node(deployment)
            self._link: _Link | None = _Link(self, (host, port))
        elif isinstance(deployment, SentinelDeployment):
            db, user, password = deployment.db, deployment.username, deployment.password
            self._sentinel = deployment.manager(socket_timeout=connect_timeout)
            self._link = _Link(self, None)
        elif isinstance(deployment, ClusterDeployment):
            db, user, password = 0, deployment.username, deployment.password
            self._link = None
            self._slots = _SlotMap(self, deployment.seeds)
        else:
            raise TypeError(f"no RedisPipe for {deployment!r}")
        if password:
            auth: tuple[Arg, ...] = (user, password) if user else (password,)
            self._setup.append(("AUTH", *auth))
        if db:
            self._setup.append(("SELECT", db))

    async def execute(self, *args: Arg, durable: bool = False) -> Any:
        """Send one command (with those of the other callers of this loop turn); its reply.
        ``durable``: acknowledged only when the replicas the pipe's ``Replication`` asks for
        confirmed it (``NotReplicated`` otherwise; the command did run)."""
        packed = _pack(args)
        durable = durable and self.replication.enabled
        link = self._link
        if link is None:
            assert self._slots is not None
            return await self._routed(_routing_key(args), packed, durable)
        if self._sentinel is None and not durable:  # one node: the hot path as it always was
            protocol = link.protocol or await link.connect()
            return await link.send(protocol, packed)
        return await self._on_primary(link, packed, durable)

    def script(self, source: str) -> PipeScript:
        return PipeScript(self, source)

    async def aclose(self) -> None:
        self._closed = True
        if self._link is not None:
            self._link.close()
        if self._slots is not None:
            self._slots.close()
        if self._sentinel is not None:
            for sentinel in self._sentinel.sentinels:
                await sentinel.aclose()

    # --- internals ---------------------------------------------------------------------------

    async def _once(
        self, link: _Link, packed: bytes, durable: bool, *, asking: bool = False
    ) -> Any:
        protocol = link.protocol or await link.connect()
        if asking:
            link.send(protocol, ASKING).add_done_callback(_retrieve)
        reply = link.send(protocol, packed)
        if not durable:
            return await reply
        wait = link.wait_after()
        answer = await reply
        self.replication.check(await wait)
        return answer

    async def _on_primary(self, link: _Link, packed: bytes, durable: bool) -> Any:
        try:
            return await self._once(link, packed, durable)
        except ReadOnlyError as exc:  # a demoted primary: it did not run the command
            if self._sentinel is None:
                raise
            link.drop(exc)
            return await self._once(link, packed, durable)

    async def _primary(self) -> Address:
        assert self._sentinel is not None and isinstance(self.deployment, SentinelDeployment)
        try:
            host, port = await self._sentinel.discover_master(self.deployment.master_name)
        except Exception as exc:  # MasterNotFoundError, an unreachable sentinel
            raise RedisConnectionError(f"no primary found by the sentinels: {exc}") from exc
        return str(host), int(port)

    async def _routed(self, key: bytes | None, packed: bytes, durable: bool) -> Any:
        assert self._slots is not None
        slots = self._slots
        target: _Link | None = None
        asking = False
        for _ in range(MAX_REDIRECTS):
            link = target or await slots.link_for(key)
            try:
                return await self._once(link, packed, durable, asking=asking)
            except MovedError as moved:
                slots.moved(moved)
                target, asking = slots.link((moved.host, int(moved.port))), False
            except AskError as ask:
                target, asking = slots.link((ask.host, int(ask.port))), True
            except RedisConnectionError:
                slots.stale = True
                raise
        raise ClusterDownError(f"redirected more than {MAX_REDIRECTS} times")


class _SlotMap:
    """Which master serves each of the cluster's 16384 slots, and a link to each master."""

    def __init__(self, pipe: RedisPipe, seeds: Sequence[Address]) -> None:
        self.pipe = pipe
        self.seeds = list(seeds)
        self.table: list[Address | None] = [None] * SLOTS
        self.links: dict[Address, _Link] = {}
        self.stale = True
        self._refreshing: asyncio.Future[None] | None = None
        self._refreshed_at = 0.0

    def link(self, address: Address) -> _Link:
        link = self.links.get(address)
        if link is None:
            link = self.links[address] = _Link(self.pipe, address)
        return link

    async def link_for(self, key: bytes | None) -> _Link:
        if self.stale:
            await self.refresh()
        address = self.table[key_slot(key) if key is not None else 0]
        if address is None:
            self.stale = True
            raise ClusterDownError("no master serves this key's slot right now")
        return self.link(address)

    def moved(self, moved: MovedError) -> None:
        self.table[int(moved.slot_id)] = (moved.host, int(moved.port))
        self.stale = True  # a failover moves many slots at once: read the whole map again

    async def refresh(self) -> None:
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._refresh())
            self._refreshing.add_done_callback(self._refreshed)
        await asyncio.shield(self._refreshing)

    def _refreshed(self, attempt: asyncio.Future[None]) -> None:
        self._refreshing = None
        if not attempt.cancelled():
            attempt.exception()

    async def _refresh(self) -> None:
        if time.monotonic() - self._refreshed_at < 0.05 and any(self.table):
            self.stale = False  # read a moment ago: a storm of callers shares it
            return
        failures: list[str] = []
        known = list(dict.fromkeys([*self.links, *self.seeds]))
        for address in known:
            link = self.link(address)
            try:
                protocol = link.protocol or await link.connect()
                ranges = await link.send(protocol, _pack(("CLUSTER", "SLOTS")))
            except (RedisConnectionError, ResponseError) as exc:
                failures.append(f"{address[0]}:{address[1]}: {exc}")
                continue
            self._read(ranges, address)
            return
        raise RedisConnectionError(f"no cluster node answers: {'; '.join(failures)}")

    def _read(self, ranges: Sequence[Any], asked: Address) -> None:
        table: list[Address | None] = [None] * SLOTS
        for start, end, master, *_replicas in ranges:
            host = master[0].decode() if isinstance(master[0], bytes) else str(master[0])
            address = (host or asked[0], int(master[1]))  # "" is the host that was asked
            table[int(start) : int(end) + 1] = [address] * (int(end) - int(start) + 1)
        self.table = table
        self.stale = False
        self._refreshed_at = time.monotonic()
        for address in [a for a in self.links if a not in set(table)]:
            self.links.pop(address).close()  # a node that serves no slot any more

    def close(self) -> None:
        for link in self.links.values():
            link.close()
        self.links.clear()


class PipeScript:
    """A Lua script called by its SHA1; sent in full once when Redis does not know it (a
    restarted server forgets its scripts)."""

    def __init__(self, pipe: RedisPipe, source: str) -> None:
        self.pipe = pipe
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()  # noqa: S324 - Redis's script id

    async def __call__(
        self, keys: Sequence[Arg], args: Sequence[Arg], *, durable: bool = False
    ) -> Any:
        try:
            return await self.pipe.execute(
                "EVALSHA", self.sha, len(keys), *keys, *args, durable=durable
            )
        except NoScriptError:
            return await self.pipe.execute(
                "EVAL", self.source, len(keys), *keys, *args, durable=durable
            )


def _single_node(deployment: SingleNode) -> tuple[str, int, int, str | None, str | None]:
    params = deployment.connect_kwargs()
    unsupported = sorted(set(params) - {"host", "port", "db", "username", "password"})
    if unsupported:
        raise ValueError(
            "RedisPipe takes redis://[user:password@]host:port/db URLs only; "
            f"this one sets {', '.join(unsupported)}"
        )
    return (
        str(params.get("host", "127.0.0.1")),
        int(params.get("port", 6379)),
        int(params.get("db", 0)),
        params.get("username"),
        params.get("password"),
    )


def _routing_key(args: Sequence[Arg]) -> bytes | None:
    """The key whose slot a command goes to: a script's first key, else the first argument."""
    if len(args) < 2:
        return None
    command = args[0].encode() if isinstance(args[0], str) else bytes(str(args[0]), "ascii")
    if command.upper() in KEYS_AT_3:
        if len(args) < 4 or int(args[2]) == 0:
            return None
        key = args[3]
    else:
        key = args[1]
    return key if isinstance(key, bytes) else str(key).encode()


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # seen: its callers (if any) have it


def _error(message: str) -> ResponseError:
    kind, _, rest = message.partition(" ")
    if kind == "NOSCRIPT":
        return NoScriptError(message)
    if kind == "MOVED":
        return MovedError(rest)
    if kind == "ASK":
        return AskError(rest)
    if kind == "READONLY":
        return ReadOnlyError(message)
    if kind == "CLUSTERDOWN":
        return ClusterDownError(message)
    return ResponseError(message)


def _pack(args: Sequence[Arg]) -> bytes:
    """The RESP encoding of one command: hiredis's, in C (this runs for every command). It takes
    str (as UTF-8), bytes, int and float, and refuses anything else (bool too) with TypeError."""
    packed: bytes = hiredis.pack_command(cast(Any, tuple(args)))  # its stub says a 1-tuple
    return packed
