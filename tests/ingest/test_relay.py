"""The ingest relay against real FerretDB and Redis: markers lead the sweep to exactly the
documents with unsent events, and stale markers are cleared."""

from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from tests.ingest.conftest import stream_events
from tests.support.events import sample
from xabar.ingest.relay import SubmissionRelay
from xabar.runtime.bus import EventBus
from xabar.runtime.outbox import outbox_entry


async def test_the_sweep_publishes_marked_documents_once_and_clears_stale_markers(
    redis_url: str,
    redis: aioredis.Redis,
    mongo: AsyncMongoClient[dict[str, Any]],
    mongo_db_name: str,
) -> None:
    db = mongo[mongo_db_name]
    subs, pending = db["submissions"], db["outbox_pending"]
    now = datetime.now(UTC)
    old = now - timedelta(minutes=10)
    events = {n: sample("submission.received", aggregate_id=f"s{n}") for n in range(3)}
    for n, event in events.items():
        await subs.insert_one({"_id": f"s{n}", "outbox": [outbox_entry(event)]})
    await pending.insert_many(
        [
            {"_id": "s0", "created_at": now},
            {"_id": "s1", "created_at": old},
            {"_id": "done", "created_at": old},  # published already, marker left behind
            {"_id": "ghost-young", "created_at": now},  # a request still storing it
            {"_id": "ghost-old", "created_at": old},  # a request that never stored it
        ]
    )
    await subs.insert_one({"_id": "done", "outbox": []})
    bus = EventBus(redis_url, consumer_name="relay-test")
    await bus.broker.connect()
    relay = SubmissionRelay(subs, pending, bus.publish, orphan_after=timedelta(minutes=2))
    try:
        assert await relay.sweep(settle=timedelta(minutes=1)) == 1  # only the settled s1
        assert await relay.sweep() == 1  # then s0
        assert await relay.sweep() == 0
    finally:
        await bus.stop()
    sent = [e.event_id for e in await stream_events(redis)]
    assert sorted(map(str, sent)) == sorted(str(events[n].event_id) for n in (0, 1))
    left = {m["_id"] for m in await pending.find({}).to_list(None)}
    assert left == {"ghost-young"}
    s2 = await subs.find_one({"_id": "s2"})
    # a document without a marker is not the sweep's: ingest writes the marker before it
    assert s2 is not None and len(s2["outbox"]) == 1
