"""A sliding-window-ish rate limit in Redis: one round trip, exact across replicas."""

from dataclasses import dataclass

from redis.asyncio import Redis

from xabar.runtime.redispipe import RedisPipe

# Fixed window counter with expiry; returns {count, ttl_ms}.
_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    count: int
    retry_after_s: int


class RateLimiter:
    def __init__(
        self, redis: Redis, prefix: str, limit: int, window_s: int, pipe: RedisPipe | None = None
    ) -> None:
        """``pipe``: count on it instead of redis-py (a hot path's connection)."""
        self.redis = redis
        self.prefix = prefix
        self.limit = limit
        self.window_ms = window_s * 1000
        self._script = redis.register_script(_SCRIPT)
        self._piped = pipe.script(_SCRIPT) if pipe is not None else None

    async def hit(self, key: str) -> Verdict:
        keys, args = [f"{self.prefix}:{key}"], [self.window_ms]
        if self._piped is not None:
            count, ttl = await self._piped(keys, args)
        else:
            count, ttl = await self._script(keys=keys, args=args)
        count, ttl = int(count), int(ttl)
        retry = max(1, -(-ttl // 1000)) if ttl > 0 else 1
        return Verdict(count <= self.limit, count, retry)
