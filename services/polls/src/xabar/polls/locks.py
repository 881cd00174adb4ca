"""Per-poll write locks in Redis: every write of a poll's MongoDB document holds one.

Why: FerretDB v1.24 on SQLite does not apply single-document updates atomically (measured here:
three tasks of 200 concurrent updates on one document, ``$inc`` of ``a`` and of ``b`` and a
``$max``, left ``a`` at 133 and ``b`` at 35), so two writers of one poll - an editor closing it,
the scheduler, the outbox relay pulling sent events - could erase each other's change and event
while both report success, and a ``version``-guarded update is no compare-and-set there. So the
lifecycle changes and the relay of a poll's outbox run one at a time across every process that
shares the Redis (replicas, the CLI). On MongoDB the guarded updates are atomic anyway; the lock
costs two Redis round trips per lifecycle write.

A lock expires after ``ttl_ms`` in case its holder died.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from xabar.polls.errors import ConcurrentChange

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class PollLocks:
    def __init__(
        self, redis: Redis, prefix: str, *, ttl_ms: int = 15_000, wait_s: float = 20.0
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_ms = ttl_ms
        self.wait_s = wait_s
        self._release = redis.register_script(RELEASE)

    @asynccontextmanager
    async def hold(self, poll_id: str) -> AsyncIterator[None]:
        key = f"{self.prefix}:lock:{poll_id}"
        token = secrets.token_hex(8)
        deadline = time.monotonic() + self.wait_s
        pause = 0.002
        while not await self.redis.set(key, token, nx=True, px=self.ttl_ms):
            if time.monotonic() > deadline:
                raise ConcurrentChange
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            await self._release(keys=[key], args=[token])
