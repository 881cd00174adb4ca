"""A consumer in its own process, for crash tests: ``python -m tests.support.consumer_proc``.

Arguments: REDIS_URL STREAM GROUP CONSUMER DONE_KEY DELAY_S [BATCH]. Each handled event's id is
added to the Redis set DONE_KEY after DELAY_S seconds of "work". With BATCH, events come through
``subscribe_batch`` in batches of at most BATCH (DELAY_S of work per batch).
"""

import asyncio
import sys
from collections.abc import Sequence

from xabar.contracts import Event
from xabar.runtime.bus import BusOptions, EventBus


async def main(
    redis_url: str,
    stream: str,
    group: str,
    consumer: str,
    done: str,
    delay: float,
    batch: int | None = None,
) -> None:
    bus = EventBus(redis_url, consumer_name=consumer, options=BusOptions(claim_idle_ms=60_000))

    async def handle(event: Event) -> None:
        await asyncio.sleep(delay)
        await bus.redis.sadd(done, str(event.event_id))

    async def handle_batch(events: Sequence[Event]) -> list[BaseException | None]:
        await asyncio.sleep(delay)
        await bus.redis.sadd(done, *[str(e.event_id) for e in events])
        return [None] * len(events)

    if batch is None:
        bus.subscribe(stream, group, handle)
    else:
        bus.subscribe_batch(stream, group, handle_batch, batch=batch)
    await bus.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, stream, group, consumer, done, delay = sys.argv[1:7]
    size = int(sys.argv[7]) if len(sys.argv) > 7 else None
    asyncio.run(main(url, stream, group, consumer, done, float(delay), size))
