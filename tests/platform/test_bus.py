"""Delivery guarantees of the event bus, against a real redis-server."""

import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.support.events import sample
from xabar.contracts import ARTICLES_STREAM, ArticlePublished, Event, dlq_stream
from xabar.runtime.bus import BusOptions, EventBus, list_dead_letters, replay_dead_letters
from xabar.runtime.idempotency import EventLedger, VersionGate

GROUP = "feed"
FAST = BusOptions(claim_idle_ms=200, max_deliveries=3, polling_interval_ms=20)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def buses(redis_url: str) -> AsyncIterator[list[EventBus]]:
    made: list[EventBus] = []
    yield made
    for bus in made:
        await bus.stop()


def new_bus(
    buses: list[EventBus], redis_url: str, name: str, options: BusOptions = FAST
) -> EventBus:
    bus = EventBus(redis_url, consumer_name=name, options=options)
    buses.append(bus)
    return bus


async def pending(redis: aioredis.Redis, stream: str = ARTICLES_STREAM) -> int:
    info = await redis.xpending(stream, GROUP)
    return int(info["pending"])


async def test_a_handler_failing_twice_is_delivered_three_times_and_applied_once(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    bus = new_bus(buses, redis_url, "c1")
    deliveries: Counter[str] = Counter()

    async def flaky(event: Event) -> None:
        deliveries[str(event.event_id)] += 1
        if deliveries[str(event.event_id)] <= 2:
            raise RuntimeError("transient failure")
        await redis.incr("effect")

    bus.subscribe(ARTICLES_STREAM, GROUP, flaky)
    await bus.start()
    event = sample("article.published")
    await bus.publish(event)

    async def applied() -> bool:
        return await redis.get("effect") == b"1" and await pending(redis) == 0

    await eventually(applied)
    await asyncio.sleep(0.6)  # three claim periods: nothing is delivered again
    assert deliveries[str(event.event_id)] == 3
    assert await redis.get("effect") == b"1"
    assert await redis.xlen(dlq_stream(ARTICLES_STREAM)) == 0


async def test_a_consumer_killed_with_sigkill_loses_no_entry(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus], tmp_path: Path
) -> None:
    n = 40
    producer = new_bus(buses, redis_url, "producer")
    await producer.broker.connect()
    from xabar.runtime.bus import ensure_group

    await ensure_group(producer.redis, ARTICLES_STREAM, GROUP)
    ids = set()
    for _ in range(n):
        event = sample("article.published")
        ids.add(str(event.event_id))
        await producer.publish(event)

    with open(tmp_path / "victim.log", "wb") as log:
        victim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.consumer_proc",
                redis_url,
                ARTICLES_STREAM,
                GROUP,
                "victim",
                "done",
                "0.05",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        async def victim_holds_entries() -> bool:
            return await redis.scard("done") >= 3 and await pending(redis) > 0

        await eventually(victim_holds_entries, timeout=30)
    finally:
        victim.kill()  # SIGKILL: no shutdown, no ack
        victim.wait()
    held = await pending(redis)
    assert held > 0, "the victim died holding unacknowledged entries"
    assert await redis.scard("done") < n

    rescuer = new_bus(buses, redis_url, "rescuer")

    async def record(event: Event) -> None:
        await redis.sadd("done", str(event.event_id))

    rescuer.subscribe(ARTICLES_STREAM, GROUP, record)
    await rescuer.start()

    async def all_done() -> bool:
        return await redis.scard("done") == n and await pending(redis) == 0

    await eventually(all_done, timeout=30)
    assert {m.decode() for m in await redis.smembers("done")} == ids


async def test_a_poison_entry_lands_in_the_dead_letter_stream_with_its_error(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    bus = new_bus(buses, redis_url, "c1")
    calls: Counter[str] = Counter()
    fixed = asyncio.Event()

    async def handler(event: Event) -> None:
        calls[str(event.event_id)] += 1
        if not fixed.is_set():
            raise ValueError("slug collides with a reserved path")
        await redis.sadd("applied", str(event.event_id))

    bus.subscribe(ARTICLES_STREAM, GROUP, handler)
    await bus.start()
    event = sample("article.published")
    await bus.publish(event)
    await redis.xadd(ARTICLES_STREAM, {"__data__": b"{not json"})

    async def two_dead() -> bool:
        return await redis.xlen(dlq_stream(ARTICLES_STREAM)) == 2 and await pending(redis) == 0

    await eventually(two_dead)
    letters = await list_dead_letters(redis, ARTICLES_STREAM)
    by_error = {("poison" in d.error): d for d in letters}
    failing, garbage = by_error[False], by_error[True]
    assert "ValueError: slug collides with a reserved path" in failing.error
    assert failing.deliveries == FAST.max_deliveries
    assert calls[str(event.event_id)] == FAST.max_deliveries
    assert garbage.deliveries == 1 and "not JSON" in garbage.error

    # the operator fixes the cause and replays the letter: it is applied, and leaves the DLQ
    fixed.set()
    assert await replay_dead_letters(redis, ARTICLES_STREAM, [failing.dlq_id]) == 1

    async def applied() -> bool:
        return await redis.sismember("applied", str(event.event_id)) == 1

    await eventually(applied)
    assert [d.dlq_id for d in await list_dead_letters(redis, ARTICLES_STREAM)] == [garbage.dlq_id]


async def test_a_duplicated_event_changes_nothing(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    bus = new_bus(buses, redis_url, "c1")
    gate = VersionGate(redis, "test:versions")
    ledger = EventLedger(redis, "test")

    async def apply(event: Event) -> None:
        assert isinstance(event, ArticlePublished)
        if await gate.admit(event):
            await redis.hset("titles", event.aggregate_id, event.data.title)
            await redis.incr("gate-applied")

        async def count() -> None:
            await redis.incr("ledger-applied")

        await ledger.run_once(event, count)

    bus.subscribe(ARTICLES_STREAM, GROUP, apply)
    await bus.start()
    v2 = sample("article.published", version=2, data={"title": "Вторая редакция"})
    v1 = sample("article.published", version=1, data={"title": "Первая редакция"})
    await bus.publish(v2)
    await bus.publish(v2)  # the same event delivered twice (a producer retry)
    await bus.publish(v1)  # an older version arriving late

    async def all_handled() -> bool:
        return (
            await redis.xlen(ARTICLES_STREAM) == 3
            and await pending(redis) == 0
            and (await redis.get("ledger-applied") == b"2")
        )

    await eventually(all_handled)
    assert await redis.get("gate-applied") == b"1"
    assert await redis.hget("titles", v2.aggregate_id) == "Вторая редакция".encode()
    assert await gate.held(v2.aggregate_id) == 2


async def test_unknown_event_types_are_acknowledged_and_skipped(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    bus = new_bus(buses, redis_url, "c1")
    seen: list[str] = []

    async def handler(event: Event) -> None:
        seen.append(event.type)

    bus.subscribe(ARTICLES_STREAM, GROUP, handler, types=["article.unpublished"])
    await bus.start()
    import json

    future = json.loads(sample("article.published").model_dump_json())
    future["type"] = "article.archived"
    await redis.xadd(ARTICLES_STREAM, {"__data__": json.dumps(future).encode()})
    await bus.publish(sample("article.published"))
    await bus.publish(sample("article.unpublished"))

    async def drained() -> bool:
        return (
            await redis.xlen(ARTICLES_STREAM) == 3 and await pending(redis) == 0 and len(seen) == 1
        )

    await eventually(drained)
    assert seen == ["article.unpublished"]
    assert await redis.xlen(dlq_stream(ARTICLES_STREAM)) == 0
