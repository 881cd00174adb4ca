"""Idempotent consumers: a redelivered or duplicated event changes nothing.

Two rules, pick the one that fits the effect:

- ``VersionGate``: for aggregate events. Apply an event only when its ``version`` is newer than the
  version held for that aggregate, atomically in Redis (one Lua script), so a late old event never
  rolls state back and a duplicate is a no-op. For effects stored in MongoDB, use the same rule
  in the update filter: ``{"_id": id, "version": {"$lt": event.version}}`` (see ``newer_filter``).
- ``EventLedger``: for events with no aggregate order. Remembers processed event ids in Redis
  (``SET NX`` with a TTL far longer than any redelivery window). ``run_once`` marks the id only
  after the effect succeeded, so a crash in between repeats the effect: the effect must then be
  safe to repeat (an upsert by a natural key), which is what at-least-once means.
"""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis

from xabar.contracts import AggregateEvent, Event

T = TypeVar("T")

_GATE = """
local held = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > held then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
"""


class VersionGate:
    """Per-aggregate high-water marks in one Redis hash."""

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis = redis
        self.key = key
        self._script = redis.register_script(_GATE)

    async def admit(self, event: AggregateEvent) -> bool:
        """True (and the mark advances) if ``event`` is newer than what was applied."""
        return bool(await self._script(keys=[self.key], args=[event.aggregate_id, event.version]))

    async def held(self, aggregate_id: str) -> int:
        value = await self.redis.hget(self.key, aggregate_id)
        return int(value) if value is not None else 0


def newer_filter(event: AggregateEvent, id_field: str = "_id") -> dict[str, Any]:
    """A MongoDB filter that matches the aggregate only where ``event`` is newer than it."""
    return {id_field: event.aggregate_id, "version": {"$lt": event.version}}


class EventLedger:
    """Processed event ids, for effects keyed by event rather than by aggregate version."""

    def __init__(self, redis: Redis, namespace: str, ttl_s: int = 14 * 24 * 3600) -> None:
        self.redis = redis
        self.namespace = namespace
        self.ttl_s = ttl_s

    def _key(self, event: Event) -> str:
        return f"{self.namespace}:seen:{event.event_id}"

    async def seen(self, event: Event) -> bool:
        return bool(await self.redis.exists(self._key(event)))

    async def run_once(self, event: Event, effect: Callable[[], Awaitable[T]]) -> T | None:
        """Run ``effect`` unless ``event`` was processed already; returns its result or None."""
        if await self.seen(event):
            return None
        result = await effect()
        await self.redis.set(self._key(event), b"1", ex=self.ttl_s)
        return result
