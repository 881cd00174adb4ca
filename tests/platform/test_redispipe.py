"""The pipelined Redis connection against a real redis-server: concurrent callers get their own
replies, error replies raise, a restarted server (which forgets its scripts) and a dead one are
handled, and the first burst of callers shares one connection attempt."""

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from xabar.runtime.localinfra import start_redis
from xabar.runtime.redispipe import RedisPipe


async def test_concurrent_callers_get_their_own_replies_in_the_selected_database(
    redis_url: str, redis: aioredis.Redis
) -> None:
    pipe = RedisPipe(redis_url)
    incr = pipe.script("return {KEYS[1], redis.call('INCRBY', KEYS[1], ARGV[1])}")
    try:
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
    finally:
        await pipe.aclose()


async def test_a_killed_server_fails_the_callers_and_a_restarted_one_is_used_again(
    tmp_path: Path,
) -> None:
    server = await asyncio.to_thread(start_redis, tmp_path / "redis")
    pipe = RedisPipe(server.url)
    script = pipe.script("return redis.call('INCR', KEYS[1])")
    try:
        assert await script(["n"], []) == 1
        await asyncio.to_thread(server.kill)  # SIGKILL
        with pytest.raises(RedisConnectionError):
            await script(["n"], [])
        with pytest.raises(RedisConnectionError):  # still down: connecting fails at once
            await script(["n"], [])
        await asyncio.to_thread(server.restart)  # from its AOF, without its script cache
        assert await script(["n"], []) == 2
        assert await script(["n"], []) == 3
    finally:
        await pipe.aclose()
        await asyncio.to_thread(server.stop)
