"""The pipelined Redis connection against a real redis-server: concurrent callers get their own
replies, error replies raise, a restarted server (which forgets its scripts) and a dead one are
handled, and the first burst of callers shares one connection attempt."""

import asyncio
from contextlib import aclosing

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from xabar.runtime.localinfra import Server
from xabar.runtime.redispipe import RedisPipe


async def test_concurrent_callers_get_their_own_replies_in_the_selected_database(
    redis_url: str, redis: aioredis.Redis
) -> None:
    async with aclosing(RedisPipe(redis_url)) as pipe:
        incr = pipe.script("return {KEYS[1], redis.call('INCRBY', KEYS[1], ARGV[1])}")
        # the first burst arrives before there is a connection: one attempt serves them all
        replies = await asyncio.gather(*(incr([f"k{n % 7}"], [n]) for n in range(500)))
        assert len(replies) == 500
        for n, (key, _) in enumerate(replies):
            assert key == f"k{n % 7}".encode()
        for k in range(7):
            expected = sum(n for n in range(500) if n % 7 == k)
            assert int(await redis.get(f"k{k}")) == expected  # the URL's database, not 0
        assert await pipe.execute("SET", "text", "привет") == b"OK"
        assert (await redis.get("text")).decode() == "привет"
        with pytest.raises(ResponseError):
            await pipe.execute("INCR", "text")  # an error reply is this caller's alone
        assert await pipe.execute("INCRBY", "k0", 0) == int(await redis.get("k0"))


async def test_a_killed_server_fails_the_callers_and_a_restarted_one_is_used_again(
    private_redis: Server,
) -> None:
    server = private_redis
    async with aclosing(RedisPipe(server.url)) as pipe:
        script = pipe.script("return redis.call('INCR', KEYS[1])")
        assert await script(["n"], []) == 1
        await asyncio.to_thread(server.kill)  # SIGKILL
        with pytest.raises(RedisConnectionError):
            await script(["n"], [])
        with pytest.raises(RedisConnectionError):  # still down: connecting fails at once
            await script(["n"], [])
        await asyncio.to_thread(server.restart)  # from its AOF, without its script cache
        assert await script(["n"], []) == 2
        assert await script(["n"], []) == 3


async def test_a_server_that_stops_answering_fails_every_waiting_caller_and_is_left(
    redis_url: str,
) -> None:
    """A peer that takes the connection and never replies (a partition, a dead proxy backend):
    the watchdog aborts the connection, every waiting caller gets ConnectionError together, and
    the next call connects again (here to a real server behind the same pipe)."""
    received = bytearray()
    answer = asyncio.Event()
    real = aioredis.from_url(redis_url)

    async def silent_then_proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not answer.is_set():
            while data := await reader.read(65536):  # swallow, answer nothing
                received.extend(data)
            writer.close()
            return
        upstream_r, upstream_w = await asyncio.open_connection(
            real.connection_pool.connection_kwargs["host"],
            real.connection_pool.connection_kwargs["port"],
        )

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, upstream_w), pump(upstream_r, writer))

    server = await asyncio.start_server(silent_then_proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pipe = RedisPipe(f"redis://127.0.0.1:{port}/0", command_timeout=0.3)
    try:
        calls = [asyncio.ensure_future(pipe.execute("INCR", f"silent{n}")) for n in range(20)]
        results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), timeout=10)
        assert all(isinstance(r, RedisConnectionError) for r in results), results
        assert b"INCR" in received  # the commands were sent; no reply ever came
        answer.set()
        assert await pipe.execute("PING") in (b"PONG", "PONG")  # a new connection is used
    finally:
        await pipe.aclose()
        server.close()
        await real.aclose()


@pytest.mark.parametrize(
    "url",
    ["unix:///run/redis.sock?db=2", "rediss://127.0.0.1:6380/0", "redis://h:1/0?socket_timeout=3"],
)
def test_urls_it_cannot_honour_are_refused_when_it_is_built(url: str) -> None:
    with pytest.raises(ValueError, match="redis://"):
        RedisPipe(url)
