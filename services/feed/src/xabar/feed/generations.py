"""The repository of the read model's generations: naming a new one, the build lock, the
switch, deleting the old ones, and what a rebuild reads (the streams' pages, the served
generation's hashes). Every Redis call of ``xabar.feed.rebuild`` is here; the projector's writes
are in ``xabar.feed.writes``, the reads in ``xabar.feed.repository``.
"""

import re
from collections.abc import AsyncIterator
from typing import Any, cast

from redis.asyncio import Redis

from xabar.feed import scripts

_GENERATION_KEY = re.compile(rb"^\{feed(?:\.d\d+)?\}:(g\d+):")
_DELETE_STEP = 500  # keys per UNLINK

_REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# The slugs ARGV (slug, owner pairs) names that KEYS[1] (a generation's slug hash) lacks.
_COPY_SLUGS = """
local n = 0
for i = 1, #ARGV, 2 do n = n + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return n
"""

_MAX_LM = """
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
local other = tonumber(redis.call('GET', KEYS[2]) or '0')
if other > held then redis.call('SET', KEYS[1], other) end
return 1
"""


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def prefix(generation: str) -> str:
    """The prefix of ``generation``'s lists and indexes (``{feed}:G:``)."""
    return f"{scripts.BASE}{generation}:"


class Generations:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._refresh = redis.register_script(_REFRESH)
        self._copy_slugs = redis.register_script(_COPY_SLUGS)
        self._max_lm = redis.register_script(_MAX_LM)
        self._switch = redis.register_script(scripts.SWITCH)

    async def claim(self, ttl_s: int) -> tuple[str, str | None]:
        """A new generation's name, and who holds the build lock: None when it is this one's
        now (it expires after ``ttl_s`` unless ``refresh``ed), else the holder."""
        generation = f"g{await self.redis.incr(scripts.GENSEQ)}"
        if await self.redis.set(scripts.BUILDING, generation, nx=True, ex=ttl_s):
            return generation, None
        return generation, _text(await self.redis.get(scripts.BUILDING)) or "?"

    async def refresh(self, generation: str, ttl_s: int) -> bool:
        """Keep the build lock of ``generation``; False when it expired or was taken."""
        return bool(await self._refresh(keys=[scripts.BUILDING], args=[generation, ttl_s]))

    async def release(self, generation: str) -> None:
        if await self.redis.get(scripts.BUILDING) == generation.encode():
            await self.redis.delete(scripts.BUILDING)

    async def current(self) -> str | None:
        return _text(await self.redis.get(scripts.CURRENT))

    async def switch(self, generation: str) -> str | None:
        """Serve ``generation`` (if its build lock is still held); returns the one before."""
        previous, _rev = await self._switch(keys=scripts.SWITCH_KEYS, args=[generation])
        return _text(previous)

    async def stream_length(self, stream: str) -> int:
        return int(await self.redis.xlen(stream))

    async def stream_page(self, stream: str, after: str, count: int) -> list[Any]:
        """Up to ``count`` entries of ``stream`` from ``after`` ("-" or "(ID")."""
        return cast("list[Any]", await self.redis.xrange(stream, min=after, max="+", count=count))

    async def hash_chunks(self, key: str, chunk: int) -> AsyncIterator[list[tuple[bytes, bytes]]]:
        """The fields and values of a hash, ``chunk`` (about) at a time (HSCAN)."""
        cursor = 0
        while True:
            cursor, found = await self.redis.hscan(key, cursor, count=chunk)
            if found:
                yield list(cast("dict[bytes, bytes]", found).items())
            if int(cursor) == 0:
                return

    async def copy_slugs(self, served: str, generation: str, chunk: int) -> None:
        """Every slug of ``served`` that ``generation`` lacks (old slugs redirect, unpublished
        ones answer 410), a script call per ``chunk``."""
        async for pairs in self.hash_chunks(prefix(served) + "s", chunk):
            args = [v for pair in pairs for v in pair]
            await self._copy_slugs(keys=[prefix(generation) + "s"], args=args)

    async def held_and_listed(
        self, served: str, generation: str, ids: list[str]
    ) -> tuple[list[Any], list[Any]]:
        """Per id: its version in ``generation`` (None: not there), its slug in ``served``."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(prefix(generation) + "v", ids)
            pipe.hmget(prefix(served) + "sl", ids)
            held, listed = await pipe.execute()
        return held, listed

    async def keep_last_modified(self, served: str, generation: str) -> None:
        """``generation``'s Last-Modified at least ``served``'s."""
        await self._max_lm(keys=[prefix(generation) + "lm", prefix(served) + "lm"])

    async def delete_all_but(self, keep: set[str | None]) -> int:
        """Delete the keys of every generation but ``keep``, the current and one being built."""
        current, building = await self.redis.mget([scripts.CURRENT, scripts.BUILDING])
        protected = {g for g in keep if g} | {
            g.decode() for g in (current, building) if isinstance(g, bytes)
        }
        deleted = 0
        doomed: list[bytes] = []
        for pattern in (f"{scripts.BASE}g*:*", scripts.DOC_PATTERN):
            async for key in scan_keys(self.redis, pattern):
                m = _GENERATION_KEY.match(key)
                if m and m.group(1).decode() not in protected:
                    doomed.append(key)
                    if len(doomed) >= _DELETE_STEP:
                        deleted += await self.redis.unlink(*doomed)
                        doomed.clear()
        if doomed:
            deleted += await self.redis.unlink(*doomed)
        return deleted


async def scan_keys(redis: Redis, pattern: str) -> AsyncIterator[bytes]:
    """Every key matching ``pattern``: on a cluster, of every master (KEYS, and a SCAN sent as
    one command, answer for one node; redis-py's cluster ``scan_iter`` scans each master to its
    end)."""
    async for key in redis.scan_iter(match=pattern, count=1000):
        yield key
