"""The outbox relay, against real FerretDB and redis-server: no event lost, none invented."""

import asyncio
import json
import time
from typing import Any

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from tests.support.events import sample
from xabar.contracts import ARTICLES_STREAM, Event, parse_event
from xabar.runtime.bus import EventBus
from xabar.runtime.outbox import OutboxRelay, outbox_entry


async def _stream_events(redis: aioredis.Redis) -> list[Event]:
    from faststream.redis.parser import BinaryMessageFormatV1

    out = []
    for _, fields in await redis.xrange(ARTICLES_STREAM):
        body, _headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
        out.append(parse_event(body))
    return out


async def test_the_change_and_its_event_are_one_write_and_the_relay_sends_it_once(
    redis_url: str,
    redis: aioredis.Redis,
    mongo: AsyncMongoClient[dict[str, Any]],
    mongo_db_name: str,
) -> None:
    coll = mongo[mongo_db_name]["articles"]
    bus = EventBus(redis_url, consumer_name="relay")
    await bus.broker.connect()
    relay = OutboxRelay(coll, bus.publish, sweep_interval=0.1)
    try:
        event = sample("article.published")
        await coll.insert_one(
            {"_id": "a1", "title": "t", "version": 1, "outbox": [outbox_entry(event)]}
        )
        await relay.start()
        relay.kick("a1")
        deadline = time.monotonic() + 10
        while await redis.xlen(ARTICLES_STREAM) < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # several sweeps: nothing is sent again
        sent = await _stream_events(redis)
        assert [e.event_id for e in sent] == [event.event_id]
        doc = await coll.find_one({"_id": "a1"})
        assert doc is not None and doc["outbox"] == []
    finally:
        await relay.stop()
        await bus.stop()


async def test_a_relay_that_died_after_publishing_resends_the_same_event_id(
    redis_url: str,
    redis: aioredis.Redis,
    mongo: AsyncMongoClient[dict[str, Any]],
    mongo_db_name: str,
) -> None:
    """Publish succeeded, the pull did not happen (the process died): the next relay re-sends the
    very same event (same id and version), which idempotent consumers drop."""
    coll = mongo[mongo_db_name]["articles"]
    bus = EventBus(redis_url, consumer_name="relay")
    await bus.broker.connect()
    try:
        first, second = sample("article.published", version=1), sample("article.updated", version=2)
        await coll.insert_one(
            {"_id": "a1", "version": 2, "outbox": [outbox_entry(first), outbox_entry(second)]}
        )
        await bus.publish(first)  # the dead relay got this far

        relay = OutboxRelay(coll, bus.publish)
        assert await relay.sweep() == 2
        assert await relay.sweep() == 0
        sent = await _stream_events(redis)
        assert [(str(e.event_id), getattr(e, "version", None)) for e in sent] == [
            (str(first.event_id), 1),
            (str(first.event_id), 1),
            (str(second.event_id), 2),
        ]
        doc = await coll.find_one({"_id": "a1"})
        assert doc is not None and doc["outbox"] == []
    finally:
        await bus.stop()


async def test_outbox_entries_keep_the_exact_event(
    mongo: AsyncMongoClient[dict[str, Any]], mongo_db_name: str
) -> None:
    event = sample("poll.tallied")
    coll = mongo[mongo_db_name]["polls"]
    await coll.insert_one({"_id": "p", "outbox": [outbox_entry(event)]})
    doc = await coll.find_one({"_id": "p"})
    assert doc is not None
    assert parse_event(doc["outbox"][0]["event"]) == event
    assert json.loads(doc["outbox"][0]["event"])["event_id"] == str(event.event_id)


async def test_with_locks_a_racing_change_and_the_relays_removal_both_survive(
    redis_url: str,
    redis: aioredis.Redis,
    mongo: AsyncMongoClient[dict[str, Any]],
    mongo_db_name: str,
) -> None:
    """FerretDB's updates are read-modify-write: without the lock, the relay's $pullAll can erase a
    writer's concurrent $set + $push. Writers and the relay holding the document's lock never do."""
    from xabar.runtime.locks import DocLocks

    db = mongo[mongo_db_name]
    coll, locks = db["articles"], DocLocks(db["locks"])
    bus = EventBus(redis_url, consumer_name="relay")
    await bus.broker.connect()
    relay = OutboxRelay(coll, bus.publish, locks=locks)
    try:
        await coll.insert_one({"_id": "a1", "edits": 0, "outbox": []})
        sent: list[str] = []

        async def writer(n: int) -> None:
            event = sample("article.updated", version=n + 2)
            sent.append(str(event.event_id))
            async with relay.hold("a1"):  # the lock the relay's passes take
                await coll.update_one(
                    {"_id": "a1"}, {"$inc": {"edits": 1}, "$push": {"outbox": outbox_entry(event)}}
                )

        async def relaying() -> None:
            for _ in range(20):
                await relay.relay_doc("a1")
                await asyncio.sleep(0)

        await asyncio.gather(relaying(), *(writer(n) for n in range(20)))
        await relay.relay_doc("a1")
        doc = await coll.find_one({"_id": "a1"})
        assert doc is not None
        assert doc["edits"] == 20
        assert doc["outbox"] == []
        published = {str(e.event_id) for e in await _stream_events(redis)}
        assert published == set(sent)
    finally:
        await bus.stop()
