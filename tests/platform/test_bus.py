"""Delivery guarantees of the event bus, against a real redis-server."""

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.support.events import sample
from xabar.contracts import (
    ARTICLES_STREAM,
    POLLS_STREAM,
    ArticlePublished,
    ArticleUnpublished,
    ArticleUpdated,
    Event,
    PollTallied,
    dlq_stream,
)
from xabar.runtime.bus import (
    BatchHandler,
    BusError,
    BusOptions,
    EventBus,
    Outgoing,
    ensure_group,
    list_dead_letters,
    replay_dead_letters,
)

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


async def on_the_stream(
    buses: list[EventBus], redis_url: str, entries: Sequence[Event | bytes]
) -> None:
    """``entries`` put on the articles stream before any consumer starts (the group made first,
    so the consumers read them all): an event published by a producer's bus, ``bytes`` added as
    an entry's data as they are (what no bus writes)."""
    producer = new_bus(buses, redis_url, "producer")
    client = await producer.connect()
    await ensure_group(client, ARTICLES_STREAM, GROUP)
    for entry in entries:
        if isinstance(entry, bytes):
            await client.xadd(ARTICLES_STREAM, {"__data__": entry})
        else:
            await producer.publish(entry)


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


async def killed_holding_entries(
    redis_url: str,
    redis: aioredis.Redis,
    buses: list[EventBus],
    tmp_path: Path,
    n: int,
    *consumer_args: str,
    held: int,
) -> set[str]:
    """``n`` events published, a consumer process (``tests.support.consumer_proc`` with
    ``consumer_args``: its delay, and its batch size) SIGKILLed once it has done ``held`` and
    holds some unacked; the events' ids."""
    events = [sample("article.published") for _ in range(n)]
    await on_the_stream(buses, redis_url, events)

    command = [sys.executable, "-m", "tests.support.consumer_proc", redis_url, ARTICLES_STREAM]
    with open(tmp_path / "victim.log", "wb") as log:
        victim = subprocess.Popen(
            [*command, GROUP, "victim", "done", *consumer_args],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        async def victim_holds_entries() -> bool:
            return await redis.scard("done") >= held and await pending(redis) > 0

        await eventually(victim_holds_entries, timeout=30)
    finally:
        victim.kill()  # SIGKILL: no shutdown, no ack
        victim.wait()
    assert await pending(redis) > 0, "the victim died holding unacknowledged entries"
    assert await redis.scard("done") < n
    return set(_ids(events))


async def all_rescued(redis: aioredis.Redis, rescuer: EventBus, ids: set[str]) -> None:
    """The rescuer, started, claims what the victim held: every event done, nothing pending."""
    await rescuer.start()

    async def all_done() -> bool:
        return await redis.scard("done") == len(ids) and await pending(redis) == 0

    await eventually(all_done, timeout=30)
    assert {m.decode() for m in await redis.smembers("done")} == ids


@pytest.mark.parametrize(
    ("n", "consumer_args", "held", "batch"),
    [(40, ("0.05",), 3, False), (60, ("0.2", "5"), 5, True)],
    ids=["one-at-a-time", "batches"],
)
async def test_a_consumer_killed_with_sigkill_loses_no_entry(
    redis_url: str,
    redis: aioredis.Redis,
    buses: list[EventBus],
    tmp_path: Path,
    n: int,
    consumer_args: tuple[str, ...],
    held: int,
    batch: bool,
) -> None:
    """A consumer (one event a call, or ``batch``es of the victim's batch size) SIGKILLed holding
    entries: a rescuer of the same kind claims them and does every event."""
    ids = await killed_holding_entries(
        redis_url, redis, buses, tmp_path, n, *consumer_args, held=held
    )
    rescuer = new_bus(buses, redis_url, "rescuer")

    async def record(event: Event) -> None:
        await redis.sadd("done", str(event.event_id))

    async def record_batch(events: Sequence[Event]) -> list[BaseException | None]:
        await redis.sadd("done", *_ids(events))
        return [None] * len(events)

    if batch:
        rescuer.subscribe_batch(ARTICLES_STREAM, GROUP, record_batch)
    else:
        rescuer.subscribe(ARTICLES_STREAM, GROUP, record)
    await all_rescued(redis, rescuer, ids)


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


async def test_unknown_event_types_and_events_the_handler_does_not_take_are_acked_and_skipped(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    bus = new_bus(buses, redis_url, "c1")
    seen: list[str] = []

    async def handler(event: ArticleUnpublished) -> None:  # takes only this one
        seen.append(event.type)

    bus.subscribe(ARTICLES_STREAM, GROUP, handler)
    await bus.start()
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


# --- batch subscriptions (subscribe_batch) -------------------------------------------------------


def _ids(events: Sequence[Event]) -> list[str]:
    return [str(e.event_id) for e in events]


def singled_out(n: int, k: int) -> tuple[list[Event], str, Counter[str]]:
    """``n`` published articles, the id of the ``k``-th (the one a test makes fail) and an
    empty count of deliveries per event id."""
    events = [sample("article.published") for _ in range(n)]
    return events, str(events[k].event_id), Counter()


def applying(
    redis: aioredis.Redis,
    seen: Counter[str],
    failure: Callable[[str], BaseException | None],
    batches: list[list[str]] | None = None,
) -> BatchHandler:
    """A batch handler that counts each event's deliveries in ``seen`` and answers
    ``failure(its id)`` for it, or where that is None applies it (adds the id to the set
    ``applied``); each batch's ids go to ``batches`` when given."""

    async def handler(batch: Sequence[Event]) -> list[BaseException | None]:
        if batches is not None:
            batches.append(_ids(batch))
        outcomes: list[BaseException | None] = []
        for event in batch:
            key = str(event.event_id)
            seen[key] += 1
            error = failure(key)
            if error is None:
                await redis.sadd("applied", key)
            outcomes.append(error)
        return outcomes

    return handler


async def consume_in_batches(
    buses: list[EventBus],
    redis_url: str,
    entries: Sequence[Event | bytes],
    handler: BatchHandler,
    batch: int | None = None,
) -> None:
    """``entries`` put on the articles stream (``on_the_stream``), then a consumer ``c1`` that
    hands them to ``handler`` up to ``batch`` (default: its options') at a time, started."""
    await on_the_stream(buses, redis_url, entries)
    bus = new_bus(buses, redis_url, "c1")
    bus.subscribe_batch(ARTICLES_STREAM, GROUP, handler, batch=batch)
    await bus.start()


async def test_a_batch_handler_gets_many_events_per_call_in_stream_order_and_all_are_acked(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    events = [sample("article.published" if n % 3 else "article.unpublished") for n in range(30)]
    published = _ids(events)
    future = json.loads(sample("article.published").model_dump_json())
    future["type"] = "article.archived"  # a type nobody knows yet: skipped and acked
    calls: list[list[str]] = []

    async def handler(events: Sequence[ArticlePublished]) -> list[BaseException | None]:
        calls.append(_ids(events))
        return [None] * len(events)

    entries = [*events, json.dumps(future).encode()]
    await consume_in_batches(buses, redis_url, entries, handler, batch=8)
    wanted = [i for n, i in enumerate(published) if n % 3]

    async def drained() -> bool:
        return sum(len(c) for c in calls) >= len(wanted) and await pending(redis) == 0

    await eventually(drained)
    assert [i for c in calls for i in c] == wanted  # each once, in stream order
    assert 1 < max(len(c) for c in calls) <= 8  # at most one XREADGROUP of 8 entries a call
    assert await redis.xlen(dlq_stream(ARTICLES_STREAM)) == 0


async def test_a_failing_event_stays_pending_alone_while_the_rest_of_its_batch_is_acked(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    events, flaky, seen = singled_out(10, 4)
    batches: list[list[str]] = []

    def failure(key: str) -> BaseException | None:
        transient = key == flaky and seen[key] <= 2
        return RuntimeError("transient failure") if transient else None

    await consume_in_batches(buses, redis_url, events, applying(redis, seen, failure, batches))

    async def all_applied() -> bool:
        return await redis.scard("applied") == 10 and await pending(redis) == 0

    await eventually(all_applied)
    await asyncio.sleep(0.6)  # three claim periods: nothing is delivered again
    assert seen[flaky] == FAST.max_deliveries  # failed twice, then applied
    assert all(n == 1 for key, n in seen.items() if key != flaky)  # the others: handled once
    assert batches[1:] == [[flaky], [flaky]]  # redelivered alone, by the claimer
    assert await redis.xlen(dlq_stream(ARTICLES_STREAM)) == 0


async def test_a_poison_entry_and_an_event_that_always_fails_leave_their_batch_and_go_to_the_dlq(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    events, doomed, seen = singled_out(6, 2)

    def failure(key: str) -> BaseException | None:
        return ValueError("slug collides with a reserved path") if key == doomed else None

    entries = [*events[:4], b"{not json", *events[4:]]
    await consume_in_batches(buses, redis_url, entries, applying(redis, seen, failure))

    async def settled() -> bool:
        return await redis.xlen(dlq_stream(ARTICLES_STREAM)) == 2 and await pending(redis) == 0

    await eventually(settled)
    assert await redis.scard("applied") == 5
    assert all(n == 1 for key, n in seen.items() if key != doomed)
    letters = {("poison" in d.error): d for d in await list_dead_letters(redis, ARTICLES_STREAM)}
    assert "ValueError: slug collides with a reserved path" in letters[False].error
    assert letters[False].deliveries == FAST.max_deliveries == seen[doomed]
    assert letters[True].deliveries == 1 and "not JSON" in letters[True].error

    # the operator replays the letter once the cause is fixed: it comes back through the batch path
    doomed = ""
    failing = letters[False]
    assert await replay_dead_letters(redis, ARTICLES_STREAM, [failing.dlq_id]) == 1

    async def replayed() -> bool:
        return await redis.scard("applied") == 6

    await eventually(replayed)


async def test_a_batch_handler_that_raises_leaves_its_whole_batch_pending_for_redelivery(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    events = [sample("article.published") for _ in range(5)]
    failures = 0

    async def handler(batch: Sequence[Event]) -> list[BaseException | None]:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise ConnectionError("redis went away")
        await redis.sadd("applied", *_ids(batch))
        return [None] * len(batch)

    await consume_in_batches(buses, redis_url, events, handler)

    async def all_applied() -> bool:
        return await redis.scard("applied") == 5 and await pending(redis) == 0

    await eventually(all_applied)
    assert {m.decode() for m in await redis.smembers("applied")} == set(_ids(events))
    assert await redis.xlen(dlq_stream(ARTICLES_STREAM)) == 0


# --- publishing and stopping ---------------------------------------------------------------------


async def test_publish_many_appends_events_in_order_and_they_are_delivered(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    producer = new_bus(buses, redis_url, "producer")
    await producer.connect()
    events = [sample("article.published") for _ in range(5)] + [sample("poll.tallied")]
    kept = Outgoing.of(sample("article.updated"))  # an event kept as its JSON (an outbox)
    ids = await producer.publish_many([*events, kept])
    assert len(ids) == 7
    assert [e for e, _ in await redis.xrange(ARTICLES_STREAM)] == [*ids[:5], ids[6]]
    assert [e for e, _ in await redis.xrange(POLLS_STREAM)] == [ids[5]]

    bus = new_bus(buses, redis_url, "c1")
    seen: list[str] = []

    async def on_articles(event: ArticlePublished | ArticleUpdated) -> None:
        seen.append(str(event.event_id))

    bus.subscribe(ARTICLES_STREAM, GROUP, on_articles)
    await bus.start()

    async def all_seen() -> bool:
        return len(seen) == 6 and await pending(redis) == 0

    await eventually(all_seen)
    assert seen == [*_ids(events[:5]), kept.event_id]


async def test_publish_many_on_the_callers_transaction_is_atomic_with_its_commands(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    producer = new_bus(buses, redis_url, "producer")
    events = [sample("article.published") for _ in range(3)]
    async with (await producer.connect()).pipeline(transaction=True) as pipe:
        assert await producer.publish_many(events, pipeline=pipe) == []  # queued only
        pipe.sadd("sent", *_ids(events))
        assert await redis.xlen(ARTICLES_STREAM) == 0
        replies = await pipe.execute()
    assert len(replies) == 4 and replies[-1] == 3
    assert await redis.xlen(ARTICLES_STREAM) == 3


async def test_a_bus_that_declares_its_events_publishes_only_those(
    redis_url: str, buses: list[EventBus]
) -> None:
    bus = new_bus(buses, redis_url, "producer")
    bus.publishes(ArticlePublished, ArticleUnpublished)
    await bus.connect()
    await bus.publish(sample("article.published"))
    with pytest.raises(BusError, match=r"article\.updated"):
        await bus.publish(sample("article.updated"))
    with pytest.raises(BusError, match=r"poll\.tallied"):
        await bus.publish_many([sample("poll.tallied")])
    with pytest.raises(BusError, match="declared already"):
        bus.publishes(ArticlePublished)
    assert isinstance(sample("poll.tallied"), PollTallied)


async def test_stop_lets_the_handler_in_flight_finish_and_ack_and_leaves_no_connection(
    redis_url: str, redis: aioredis.Redis, buses: list[EventBus]
) -> None:
    bus = EventBus(redis_url, consumer_name="c1", options=FAST)
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(0.5)
        finished.set()

    bus.subscribe(ARTICLES_STREAM, GROUP, slow)
    await bus.start()
    await bus.publish(sample("article.published"))
    await asyncio.wait_for(started.wait(), 10)
    await bus.stop()
    assert finished.is_set(), "stop returned before the handler in flight finished"
    assert await pending(redis) == 0, "the entry handled during the stop was not acked"
    clients = await redis.client_list()
    assert len(clients) == 1, f"connections left behind: {clients}"
