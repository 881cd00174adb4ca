"""A sliding-window-ish rate limit in Redis: one round trip, exact across replicas."""

from dataclasses import dataclass

from redis.asyncio import Redis

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
    def __init__(self, redis: Redis, prefix: str, limit: int, window_s: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.limit = limit
        self.window_ms = window_s * 1000
        self._script = redis.register_script(_SCRIPT)

    async def hit(self, key: str) -> Verdict:
        count, ttl = await self._script(keys=[f"{self.prefix}:{key}"], args=[self.window_ms])
        count, ttl = int(count), int(ttl)
        retry = max(1, -(-ttl // 1000)) if ttl > 0 else 1
        return Verdict(count <= self.limit, count, retry)
