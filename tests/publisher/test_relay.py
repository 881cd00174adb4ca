"""Events leave through the outbox only: nothing lost, nothing invented, duplicates harmless.

Real Redis and FerretDB; the "consumer" applies the rule every consumer of article events uses:
an event is applied only when its version is newer than the one held."""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.publisher.conftest import (
    SettingsFactory,
    create_article,
    env_of,
    publish,
    running_in_task,
    stream_events,
)
from tests.support.waiting import eventually
from xabar.contracts import AggregateEvent, ArticlePublished, ArticleUpdated, Event
from xabar.publisher.relay import MarkedRelay
from xabar.runtime.bus import EventBus


def applied_by_a_version_gated_consumer(events: list[Event]) -> dict[str, int]:
    """Feed every event, duplicates included, to a version-gated consumer; count what it
    applies."""
    held: dict[str, int] = {}
    applied: dict[str, int] = defaultdict(int)
    for event in events:
        assert isinstance(event, AggregateEvent)
        if event.version > held.get(event.aggregate_id, 0):
            held[event.aggregate_id] = event.version
            applied[event.aggregate_id] += 1
    return dict(applied)


class RelayDied(Exception):
    pass


async def test_a_relay_that_dies_after_publishing_does_not_publish_again_and_a_replay_is_harmless(
    make_settings: SettingsFactory, redis_url: str, redis: aioredis.Redis
) -> None:
    """The relay dies between the XADD and the removal of the entry from the document: the next
    pass knows it was sent (the sent set is written in the same MULTI/EXEC as the XADD) and only
    removes it. If that record is lost too (say Redis was restored from an older copy), the event
    goes out again with the same id and version, and a version-gated consumer applies it once."""
    async with running_in_task(make_settings(relay_enabled=False)) as h:
        article = await create_article(h, title="Новость с повтором")
        aid = article["article_id"]
        await publish(h, aid)
        assert await stream_events(redis) == []  # stored with its event, not relayed yet
        cols = h.parts.collections
        doc = await cols.articles.find_one({"_id": aid})
        assert doc is not None and len(doc["outbox"]) == 1
        original = doc["outbox"]

        bus = EventBus(redis_url, consumer_name="relay-test")
        await bus.connect()
        try:
            locks = h.parts.article_relay.doc_locks
            relay = MarkedRelay(cols.articles, cols.articles_pending, bus, locks)
            published = relay.publish_entries

            async def publish_then_die(entries: list[dict[str, str]]) -> int:
                await published(entries)
                raise RelayDied  # the process died before removing the entry

            relay.publish_entries = publish_then_die  # type: ignore[method-assign]
            with pytest.raises(RelayDied):
                await relay.relay_doc(aid)
            doc = await cols.articles.find_one({"_id": aid})
            assert doc is not None and len(doc["outbox"]) == 1  # still there

            healthy = MarkedRelay(cols.articles, cols.articles_pending, bus, locks)
            assert await healthy.sweep() == 0  # nothing new to send: it was sent
            doc = await cols.articles.find_one({"_id": aid})
            assert doc is not None and doc["outbox"] == []  # and it is removed
            assert len(await stream_events(redis)) == 1

            # the record of what was sent is lost, and the entry is there again: a replay
            await redis.delete(healthy.sent_key)
            await cols.articles.update_one({"_id": aid}, {"$set": {"outbox": original}})
        finally:
            await bus.stop()

    async with running_in_task(make_settings(relay_enabled=False)) as h:
        bus = EventBus(redis_url, consumer_name="relay-test-2")
        await bus.connect()
        try:
            cols = h.parts.collections
            locks = h.parts.article_relay.doc_locks
            again = MarkedRelay(cols.articles, cols.articles_pending, bus, locks)
            assert await again.sweep() == 1
        finally:
            await bus.stop()
        events = await stream_events(redis)
        assert len(events) == 2
        assert isinstance(events[0], ArticlePublished) and isinstance(events[1], ArticlePublished)
        assert events[0].event_id == events[1].event_id
        assert events[0].version == events[1].version == 2
        assert applied_by_a_version_gated_consumer(events) == {aid: 1}


async def test_edits_racing_the_relay_lose_neither_a_change_nor_its_event(
    make_settings: SettingsFactory, redis: aioredis.Redis
) -> None:
    async with running_in_task(make_settings()) as h:
        article = await create_article(h)
        aid = article["article_id"]
        version = (await publish(h, aid))["version"]
        stop = asyncio.Event()

        async def relay_hard() -> None:
            while not stop.is_set():
                await h.parts.article_relay.relay_doc(aid)
                await asyncio.sleep(0)

        racer = asyncio.create_task(relay_hard())
        leads = {}
        try:
            for n in range(15):
                resp = await h.client.patch(
                    f"/api/v1/articles/{aid}",
                    json={"lead": f"Уточнение номер {n}"},
                    headers={**h.auth(), "If-Match": f'"{version}"'},
                )
                assert resp.status_code == 200, resp.text
                version = resp.json()["version"]
                leads[version] = f"Уточнение номер {n}"
        finally:
            stop.set()
            await racer

        async def all_updates() -> bool:
            updates = [e for e in await stream_events(redis) if isinstance(e, ArticleUpdated)]
            return {e.version for e in updates} >= set(leads)

        await eventually(all_updates, what="one article.updated per stored edit")
        updates = [e for e in await stream_events(redis) if isinstance(e, ArticleUpdated)]
        assert {e.version: e.data.lead for e in updates} == leads
        doc = await h.parts.collections.articles.find_one({"_id": aid})
        assert doc is not None
        assert (doc["version"], doc["lead"]) == (version, leads[version])
        assert [r["version"] for r in doc["revisions"]] == list(range(1, version + 1))


def _import_file(path: Path, count: int) -> None:
    start = datetime(2013, 9, 18, 11, 0, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            line = {
                "import_key": f"kill-test:{n}",
                "title": f"Правительство обсудило вопрос номер {n % 40}",  # slugs collide
                "lead": "Подробности позже.",
                "body_html": f"<p>Новость {n}.</p>",
                "countries": ["KZ"],
                "tags": [],
                "published_at": (start - timedelta(hours=n)).isoformat(),
                "featured": False,
                "image": None,
                "source": "Xabar",
                "author": "Редакция",
            }
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


@pytest.mark.slow
async def test_an_import_killed_midway_and_run_again_publishes_each_article_once(
    make_settings: SettingsFactory, tmp_path: Path, redis: aioredis.Redis
) -> None:
    """kill -9 while it relays: the second run relays what the first left in outboxes and
    creates the rest; duplicates on the stream carry the same event id and version."""
    count = 3000  # an import long enough to be killed midway
    settings = make_settings(lock_stale_s=2)  # the killed run's locks are stale soon
    path = tmp_path / "articles.jsonl"
    _import_file(path, count)
    env = {**os.environ, **env_of(settings)}
    cmd = [
        sys.executable,
        "-m",
        "xabar.publisher",
        "import-articles",
        str(path),
        "--batch-size",
        "50",
        "--no-progress",
    ]
    with (tmp_path / "first.log").open("wb") as log:
        first = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while await redis.xlen("xabar.articles") < 200 and time.monotonic() < deadline:
            assert first.poll() is None, "the import ended before it could be killed"
            await asyncio.sleep(0.01)
        first.kill()
        assert first.wait() == -9
    sent_before = await redis.xlen("xabar.articles")
    assert 200 <= sent_before < count

    second = await asyncio.to_thread(
        subprocess.run, cmd, env=env, capture_output=True, check=False, timeout=300
    )
    assert second.returncode == 0, second.stderr.decode()[-3000:]

    events = await stream_events(redis)
    by_article: dict[str, set[tuple[Any, int]]] = defaultdict(set)
    for event in events:
        assert isinstance(event, ArticlePublished)
        by_article[event.aggregate_id].add((event.event_id, event.version))
    assert len(by_article) == count  # every article's event, none lost
    assert all(len(ids) == 1 for ids in by_article.values())  # a repeat is the same event
    applied = applied_by_a_version_gated_consumer(events)
    assert len(applied) == count and set(applied.values()) == {1}

    async with running_in_task(settings) as h:
        docs = await h.parts.collections.articles.find({}, {"outbox": 1, "status": 1}).to_list(None)
        assert len(docs) == count
        assert {d["status"] for d in docs} == {"published"}
        # an article imported and relayed in its batch keeps its one event in its outbox,
        # recorded as sent, until its next write removes it; an article the killed run inserted
        # but did not relay was relayed by the second run's start-up sweep, which also removes
        # the sent entry. Either way: at most its one event, and nothing is left to send.
        outboxes = {d["_id"]: d["outbox"] for d in docs}
        published = {aid: next(iter(ids))[0] for aid, ids in by_article.items()}
        for aid, outbox in outboxes.items():
            assert [e["event_id"] for e in outbox] in ([], [str(published[aid])])
        swept = [aid for aid, outbox in outboxes.items() if not outbox]
        assert len(swept) <= 50 * 2  # only the batch(es) in flight at the kill
        left = [e for outbox in outboxes.values() for e in outbox]
        assert await h.parts.article_relay.unsent(left) == []
        slugs = await h.parts.collections.articles.find({}, {"slug": 1}).to_list(None)
        assert len({d["slug"] for d in slugs}) == count  # unique, collisions numbered
