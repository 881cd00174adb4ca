"""Many calls of registered Lua scripts at once, on one Redis or on a Redis Cluster.

On one node the calls go in one pipeline: one round trip, run in order. redis-py's cluster
pipeline refuses scripts (``EVALSHA`` is blocked in it), so on a cluster the calls are sent
concurrently instead, at most ``CONCURRENCY`` in flight, each to the master of its keys' slot:
about one round trip per ``CONCURRENCY`` calls, and no order between calls. Every caller here
gates its writes by version (or by voter), so the order between calls of one batch changes
nothing; a caller for whom order matters must not batch.

Every script gets each key it touches in ``KEYS``, all of one hash tag (``docs/redis-keys.md``).
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

CONCURRENCY = 32

Call = tuple[AsyncScript, Sequence[Any], Sequence[Any]]  # script, keys, args


def is_cluster(redis: Any) -> bool:
    return isinstance(redis, RedisCluster)


async def run_many(
    redis: Redis, calls: Sequence[Call], *, raise_on_error: bool = True
) -> list[Any]:
    """The replies of ``calls``, in their order; with ``raise_on_error`` False a failed call's
    reply is its exception (as ``Pipeline.execute(raise_on_error=False)`` gives it)."""
    if not calls:
        return []
    if is_cluster(redis):
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(call: Call) -> Any:
            script, keys, args = call
            async with gate:
                return await script(keys=keys, args=args)

        replies = await asyncio.gather(
            *(one(c) for c in calls), return_exceptions=not raise_on_error
        )
        return list(replies)
    async with redis.pipeline(transaction=False) as pipe:
        for script, keys, args in calls:
            await script(keys=keys, args=args, client=pipe)
        result: list[Any] = await pipe.execute(raise_on_error=raise_on_error)
    return result
