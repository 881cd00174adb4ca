"""A consumer in its own process, for crash tests: ``python -m tests.support.consumer_proc``.

Arguments: REDIS_URL STREAM GROUP CONSUMER DONE_KEY DELAY_S. Each handled event's id is added to
the Redis set DONE_KEY after DELAY_S seconds of "work".
"""

import asyncio
import sys

from xabar.contracts import Event
from xabar.runtime.bus import BusOptions, EventBus


async def main(
    redis_url: str, stream: str, group: str, consumer: str, done: str, delay: float
) -> None:
    bus = EventBus(redis_url, consumer_name=consumer, options=BusOptions(claim_idle_ms=60_000))

    async def handle(event: Event) -> None:
        await asyncio.sleep(delay)
        await bus.redis.sadd(done, str(event.event_id))

    bus.subscribe(stream, group, handle)
    await bus.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, stream, group, consumer, done, delay = sys.argv[1:7]
    asyncio.run(main(url, stream, group, consumer, done, float(delay)))
