"""Acknowledge a write only once N replicas have it: Redis's ``WAIT``, in one place.

Redis replicates asynchronously: a primary that dies (or is failed over) loses whatever its
replicas had not received yet. Where an answer promises durability (a tip's 202, a comment's,
a vote's 201), the write is followed by ``WAIT N timeout`` and the answer is given only when at
least N replicas confirmed; otherwise ``NotReplicated`` is raised, which the services answer like
a lost connection: 503, "send it again" (their idempotency keys keep the retry single; a write
that ran but was not confirmed is found by the retry, not applied twice).

``WAIT`` counts the replicas that acknowledged every write *of the connection it runs on*, so
it must run on the connection of the write, on the node that holds the key: ``Replication.write``
sends the commands and the ``WAIT`` in one pipeline on one connection (on a cluster, the
connection to the node of the key's slot, and a write redirected meanwhile is not confirmed);
``RedisPipe`` does the same for its hot-path commands (``durable=True``), with one ``WAIT`` per
connection and write of a loop turn, shared by every caller in it.

N is a setting (``XABAR_<SVC>_REDIS_MIN_REPLICAS``): 0 on a single node (no ``WAIT`` at all), 1
in the HA profiles. Which failovers this covers: a primary that crashes or is cut off. Sentinel
promotes the replica with the largest replication offset, which holds every write any replica
confirmed; a cluster master's replica holds them when N is its replica count. A forced failover
(``SENTINEL FAILOVER``) of a primary that keeps taking writes can still drop the writes only the
other replica confirmed in the moment between the promotion and that replica's reconfiguration:
for a planned switchover, raise N to the replica count first (see the README's scale-out
chapter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from xabar.runtime.deployment import is_cluster
from xabar.runtime.errors import RuntimeFault


class NotReplicated(RuntimeFault, RedisConnectionError):
    """A write ran on the primary, but fewer than the required replicas confirmed it within the
    timeout: it may not survive a failover, so it is not acknowledged. A ``ConnectionError``, so
    every service answers it as it answers a lost connection: 503, send it again."""

    def __init__(self, confirmed: int, wanted: int, timeout_ms: int) -> None:
        super().__init__(
            f"{confirmed} of the {wanted} replicas required confirmed the write "
            f"within {timeout_ms} ms"
        )
        self.confirmed, self.wanted, self.timeout_ms = confirmed, wanted, timeout_ms


@dataclass(frozen=True, slots=True)
class Replication:
    """How many replicas must confirm a durable write (0: none, no ``WAIT``), and how long a
    write waits for them."""

    replicas: int = 0
    timeout_ms: int = 1000

    def __post_init__(self) -> None:
        if self.replicas < 0 or self.timeout_ms < 1:
            raise ValueError("replicas must be >= 0 and timeout_ms >= 1")

    @property
    def enabled(self) -> bool:
        return self.replicas > 0

    def wait_command(self) -> tuple[str, int, int]:
        return ("WAIT", self.replicas, self.timeout_ms)

    def check(self, confirmed: Any) -> None:
        """Raise ``NotReplicated`` unless ``confirmed`` (WAIT's reply) reaches ``replicas``."""
        count = int(confirmed)
        if count < self.replicas:
            raise NotReplicated(count, self.replicas, self.timeout_ms)

    async def write(self, redis: Redis, key: str | bytes, fill: Callable[[Any], Any]) -> list[Any]:
        """Run the commands ``fill`` queues on a pipeline (every one on the node of ``key``) and,
        when replicas are required, ``WAIT`` for them on the same connection; the commands'
        replies. ``NotReplicated`` when too few confirm (the commands did run)."""
        if is_cluster(redis):
            return await self._write_cluster(redis, key, fill)
        async with redis.pipeline(transaction=False) as pipe:
            fill(pipe)
            if self.enabled:
                pipe.execute_command(*self.wait_command())
            replies: list[Any] = await pipe.execute()
        if self.enabled:
            self.check(replies.pop())
        return replies

    async def _write_cluster(
        self, redis: Any, key: str | bytes, fill: Callable[[Any], Any]
    ) -> list[Any]:
        await redis.initialize()  # the slot map (a no-op once read)
        node = redis.get_node_from_key(key)
        async with redis.pipeline(transaction=False) as pipe:
            fill(pipe)
            if self.enabled:  # on the connection of the key's node, after the writes
                pipe.execute_command(*self.wait_command(), target_nodes=node)
            replies: list[Any] = await pipe.execute()
        if self.enabled:
            confirmed = replies.pop()
            if redis.get_node_from_key(key).name != node.name:  # moved: WAIT saw other writes
                raise NotReplicated(0, self.replicas, self.timeout_ms)
            self.check(confirmed)
        return replies
